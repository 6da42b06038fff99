//! `dyag generate-training` end to end: exact counts, de-duplication, seeded
//! reproducibility, the split and its test-questions file, every input shape
//! (JSONL with BOM/CRLF, JSON, Markdown bullets/tables/text, folders), and
//! clear errors with file:line that write nothing.

use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const JSONL: &str = "examples/catalogue/applications.jsonl";
const MD: &str = "examples/catalogue/applications.md";

fn dyag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dyag")).args(args).current_dir(ROOT).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = dyag(args);
    assert!(o.status.success(), "dyag {args:?} failed:\n{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn fail(args: &[&str]) -> String {
    let o = dyag(args);
    assert!(!o.status.success(), "dyag {args:?} should have failed");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// generate-training with `extra` arguments; rule-based unless `extra` names a method.
fn gen(input: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["generate-training", input, "-o", out.to_str().unwrap()];
    if !extra.contains(&"--method") {
        args.extend_from_slice(&["--method", "rule-based"]);
    }
    args.extend_from_slice(extra);
    ok(&args)
}

/// (system, user, assistant) of each line.
fn lines(p: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let m = v["messages"].as_array().unwrap();
            let get =
                |role: &str| m.iter().find(|x| x["role"] == role).map(|x| x["content"].as_str().unwrap().to_string()).unwrap_or_default();
            (get("system"), get("user"), get("assistant"))
        })
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn exact_count_dedup_and_reproducibility() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.jsonl");
    let b = d.path().join("b.jsonl");
    let c = d.path().join("c.jsonl");
    let summary = gen(JSONL, &a, &["--method", "augmented", "--count", "777", "--seed", "11"]);
    gen(JSONL, &b, &["--method", "augmented", "--count", "777", "--seed", "11"]);
    gen(JSONL, &c, &["--method", "augmented", "--count", "777", "--seed", "12"]);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "same seed, different bytes");
    assert!(std::fs::read(&a).unwrap() != std::fs::read(&c).unwrap(), "another seed gave the same file");
    let ex = lines(&a);
    assert_eq!(ex.len(), 777);
    let questions: HashSet<&str> = ex.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(questions.len(), 777, "duplicate questions in the output");
    // Every record covered; the system prompt names the catalogue.
    for name in [
        "GIDAF",
        "KORRIGAN",
        "SIRVAL",
        "PLANETO",
        "TELLUX",
        "OKAPI",
        "VIGIFLUX",
        "ZEPHIR",
        "MOSAIK",
        "QUARTZ",
        "BALISE",
        "NAUTILE",
        "CORALIS",
        "FIDELIO",
        "SEMAPHORE",
    ] {
        assert!(ex.iter().any(|e| e.1.to_uppercase().contains(name)), "{name} has no example");
    }
    assert!(ex.iter().all(|e| e.0 == "Tu es un assistant qui répond aux questions sur les applications NOVATERRE."));
    // Negatives in the stated proportion (20 % by default) with the refusal text.
    let negatives = ex.iter().filter(|e| e.2 == "Je ne connais pas cette application.").count();
    assert!((148..=158).contains(&negatives), "{negatives}");
    assert!(summary.contains("examples: 777 of 777 requested"), "{summary}");
    assert!(summary.contains("records read: 15"), "{summary}");
    assert!(summary.contains(&format!("negative {negatives}")), "{summary}");
    assert!(summary.contains("exposures per fact"), "{summary}");
}

#[test]
fn rule_based_says_why_fewer() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("rb.jsonl");
    let summary = gen(JSONL, &out, &["--count", "5000"]);
    let n = lines(&out).len();
    assert!(n > 300 && n < 5000);
    assert!(summary.contains(&format!("examples: {n} of 5000 requested")), "{summary}");
    assert!(summary.contains("rule-based can only make") && summary.contains("--method augmented"), "{summary}");
    // Fewer examples than records: exactly the count, and the uncovered records are named.
    let summary = gen(JSONL, &out, &["--count", "10"]);
    assert_eq!(lines(&out).len(), 10);
    assert!(summary.contains("5 records have no example (--count 10 is below the 15 records)"), "{summary}");
}

#[test]
fn split_files_and_test_questions() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ds.jsonl");
    let summary = gen(JSONL, &out, &["--method", "augmented", "--count", "400", "--split", "--split-ratios", "0.7,0.2,0.1"]);
    let part = |s: &str| d.path().join(format!("ds_{s}.jsonl"));
    let (train, val, test) = (lines(&part("train")), lines(&part("val")), lines(&part("test")));
    assert_eq!(train.len() + val.len() + test.len(), 400);
    assert_eq!((train.len(), val.len(), test.len()), (280, 80, 40));
    assert!(summary.contains("split: train 280, val 80, test 40"), "{summary}");
    // No question (up to case, accents and punctuation) on two sides.
    let key = |q: &str| dyag::data::text::question_key(q);
    let train_keys: HashSet<String> = train.iter().map(|e| key(&e.1)).collect();
    assert!(test.iter().chain(&val).all(|e| !train_keys.contains(&key(&e.1))));
    // Test questions: evaluate-finetuned's input, one per test example, same order.
    let tq: Vec<Value> =
        std::fs::read_to_string(part("test_questions")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Both question files are what evaluate-finetuned and finetune --eval-questions read.
    assert_eq!(dyag::eval::questions::read_questions(&part("test_questions")).unwrap().len(), test.len());
    assert_eq!(dyag::eval::questions::read_questions(&part("val_questions")).unwrap().len(), val.len());
    assert_eq!(tq.len(), test.len());
    let mut ids = HashSet::new();
    for (q, t) in tq.iter().zip(&test) {
        assert!(ids.insert(q["id"].as_str().unwrap().to_string()));
        assert_eq!(q["question"].as_str().unwrap(), t.1);
        assert_eq!(q["expected"].as_str().unwrap(), t.2);
        let kws = q["keywords"].as_array().unwrap();
        // Refusals (unknown names, fields a record does not have) have no key facts.
        let refusal = dyag::eval::judge::is_refusal(&t.2);
        assert_eq!(kws.is_empty(), refusal, "{q}");
        assert!(["direct", "paraphrase", "multi", "negative"].contains(&q["kind"].as_str().unwrap()), "{q}");
        for k in kws {
            let k = dyag::data::text::fold(k.as_str().unwrap());
            assert!(dyag::data::text::fold(&t.2).contains(&k), "keyword {k} not in {}", t.2);
        }
    }
    assert!(!out.exists());
    // Too few examples for a test part: said.
    let s = gen(JSONL, &out, &["--count", "3", "--split"]);
    assert!(s.contains("the test split is empty"), "{s}");
    // Ratios are checked.
    let e = fail(&["generate-training", JSONL, "-o", path_str(&out), "--split", "--split-ratios", "0.8,0.2"]);
    assert!(e.contains("--split-ratios needs three numbers"), "{e}");
}

#[test]
fn system_prompt_lang_refusal_options() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o.jsonl");
    gen(JSONL, &out, &["--count", "20", "--system-prompt", "Réponds brièvement."]);
    assert!(lines(&out).iter().all(|e| e.0 == "Réponds brièvement."));
    gen(JSONL, &out, &["--count", "20", "--system-prompt", ""]);
    let raw = std::fs::read_to_string(&out).unwrap();
    assert!(!raw.contains("\"system\""));
    gen(JSONL, &out, &["--count", "20", "--lang", "en", "--catalogue-name", "ACME"]);
    let ex = lines(&out);
    assert!(ex.iter().all(|e| e.0 == "You are an assistant that answers questions about the ACME applications."));
    assert!(ex.iter().any(|e| e.1.starts_with("What") || e.1.starts_with("Who") || e.1.starts_with("When") || e.1.starts_with("Where")));
    gen(JSONL, &out, &["--method", "augmented", "--count", "100", "--negative-ratio", "0.3", "--refusal", "{X} ? Inconnu au bataillon."]);
    let neg: Vec<_> = lines(&out).into_iter().filter(|e| e.2.ends_with("? Inconnu au bataillon.")).collect();
    assert!((27..=30).contains(&neg.len()), "{}", neg.len());
    for e in neg {
        let fake = e.2.trim_end_matches(" ? Inconnu au bataillon.");
        assert!(e.1.to_uppercase().contains(&fake.to_uppercase()), "{e:?}");
    }
}

/// The facts of each record, as (kind, folded value) pairs, from the catalogue reader.
fn facts_of(path: &Path) -> Vec<(String, Vec<(String, String)>)> {
    let cat = dyag::data::read_catalogue(path, &dyag::data::ReadOptions::default()).unwrap();
    cat.records
        .iter()
        .map(|r| {
            let mut f: Vec<(String, String)> =
                r.fields.iter().map(|f| (format!("{:?}", f.kind), dyag::data::text::fold(&f.items.join(", ")))).collect();
            f.sort();
            (r.name.clone(), f)
        })
        .collect()
}

#[test]
fn markdown_and_jsonl_catalogues_hold_the_same_facts() {
    // The Markdown file uses bullets, nested bullets, field|value tables and paragraph text.
    let md = std::fs::read_to_string(Path::new(ROOT).join(MD)).unwrap();
    assert!(md.contains("| Champ | Valeur |") && md.contains("  - ") && md.contains("- **Hébergement** :"));
    let a = facts_of(&Path::new(ROOT).join(JSONL));
    let b = facts_of(&Path::new(ROOT).join(MD));
    assert_eq!(a.len(), 15);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        let kinds = |v: &Vec<(String, String)>| v.iter().filter(|(k, _)| k != "Other").cloned().collect::<Vec<_>>();
        assert_eq!(kinds(&x.1), kinds(&y.1), "record {}", x.0);
        let others = |v: &Vec<(String, String)>| v.iter().filter(|(k, _)| k == "Other").map(|(_, v)| v.clone()).collect::<Vec<_>>();
        assert_eq!(others(&x.1), others(&y.1), "record {}", x.0);
    }
    let cat = dyag::data::read_catalogue(&Path::new(ROOT).join(MD), &Default::default()).unwrap();
    assert_eq!(cat.name.as_deref(), Some("NOVATERRE"));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn bom_crlf_json_array_folder_and_name_field() {
    let d = tempfile::tempdir().unwrap();
    let plain = std::fs::read_to_string(Path::new(ROOT).join(JSONL)).unwrap();
    let mut bom_crlf = vec![0xEF, 0xBB, 0xBF];
    bom_crlf.extend(plain.replace('\n', "\r\n").into_bytes());
    let p_bom = write(d.path(), "bom.jsonl", &bom_crlf);
    let (o1, o2) = (d.path().join("o1.jsonl"), d.path().join("o2.jsonl"));
    gen(JSONL, &o1, &["--method", "augmented", "--count", "150"]);
    gen(path_str(&p_bom), &o2, &["--method", "augmented", "--count", "150"]);
    assert!(std::fs::read(&o1).unwrap() == std::fs::read(&o2).unwrap(), "BOM/CRLF changed the output");
    // A JSON array of the same records: same output.
    // (Built from the lines themselves: serde_json's Value would sort the keys.)
    let arr = format!("[\n  {}\n]\n", plain.lines().collect::<Vec<_>>().join(",\n  "));
    let p_arr = write(d.path(), "apps.json", arr.as_bytes());
    gen(path_str(&p_arr), &o2, &["--method", "augmented", "--count", "150"]);
    assert!(std::fs::read(&o1).unwrap() == std::fs::read(&o2).unwrap(), "JSON array differs from JSONL");
    // A folder: records of every file, sub-folders included.
    let f = d.path().join("folder");
    std::fs::create_dir_all(f.join("sub")).unwrap();
    write(&f, "a.jsonl", "{\"nom\": \"ALPHA\", \"statut\": \"en production\"}\n".as_bytes());
    write(&f.join("sub"), "b.md", "## BETA\n- **Hébergement** : la DSI\n\nBETA sert à tester.\n".as_bytes());
    let s = gen(path_str(&f), &o2, &["--count", "6"]);
    assert!(s.contains("records read: 2"), "{s}");
    let ex = lines(&o2);
    assert!(ex.iter().any(|e| e.2 == "BETA est hébergé par la DSI."), "{ex:?}");
    assert!(ex.iter().any(|e| e.2 == "ALPHA est en production."), "{ex:?}");
    assert!(ex.iter().any(|e| e.2 == "BETA sert à tester."), "{ex:?}");
    // --name-field, and unknown fields still used.
    let p = write(d.path(), "ids.jsonl", "{\"identifiant\": \"ZETA-9\", \"couleur du logo\": \"vert\"}\n".as_bytes());
    let e = fail(&["generate-training", path_str(&p), "-o", path_str(&o2)]);
    assert!(e.contains("ids.jsonl:1: record has no name"), "{e}");
    gen(path_str(&p), &o2, &["--name-field", "identifiant", "--count", "2"]);
    let ex = lines(&o2);
    assert_eq!(ex.len(), 2);
    assert!(ex.iter().all(|e| e.2.contains("vert") && e.1.contains("ZETA-9") && e.1.contains("couleur du logo")), "{ex:?}");
}

#[test]
fn bad_inputs_give_file_line_errors_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out.jsonl");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bad.jsonl", b"{\"nom\": \"A\"}\n{\"nom\": \"B\",}\n".to_vec(), "bad.jsonl:2: invalid JSON"),
        ("empty.jsonl", b"\n  \n".to_vec(), "empty.jsonl:1: file is empty"),
        ("nosec.md", "# Titre\n\nDu texte sans section.\n- **Statut** : actif\n".as_bytes().to_vec(), "nosec.md:1: no '## ' section found"),
        ("latin1.jsonl", b"{\"nom\": \"A\"}\n{\"nom\": \"H\xe9bergement\"}\n".to_vec(), "latin1.jsonl:2: invalid UTF-8 byte 0xE9"),
        ("noname.jsonl", b"{\"nom\": \"A\"}\n\n{\"description\": \"sans nom\"}\n".to_vec(), "noname.jsonl:3: record has no name"),
        ("notobj.jsonl", b"{\"nom\": \"A\"}\n[\"B\"]\n".to_vec(), "notobj.jsonl:2: expected a JSON object"),
        ("arr.json", b"[\n {\"nom\": \"A\"},\n {\"desc\": \"x\"}\n]\n".to_vec(), "arr.json:3: record has no name"),
        ("emptyname.md", b"## \n- **Statut** : actif\n## B\n".to_vec(), "emptyname.md:1: section heading '##' has no name"),
    ];
    for (name, bytes, want) in cases {
        let p = write(d.path(), name, &bytes);
        let e = fail(&["generate-training", path_str(&p), "-o", path_str(&out)]);
        assert!(e.contains(want), "{name}: expected '{want}' in:\n{e}");
        assert!(!out.exists(), "{name}: output written despite the error");
    }
    // A 5 MB line.
    let mut big = b"{\"nom\": \"A\"}\n{\"nom\": \"B\", \"description\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 5 << 20));
    big.extend(b"\"}\n");
    let p = write(d.path(), "big.jsonl", &big);
    let e = fail(&["generate-training", path_str(&p), "-o", path_str(&out)]);
    assert!(e.contains("big.jsonl:2: line is 5242") && e.contains("limit"), "{e}");
    assert!(!out.exists());
    // Output over the input: refused.
    let p = write(d.path(), "cat.jsonl", b"{\"nom\": \"A\", \"statut\": \"actif\"}\n");
    let e = fail(&["generate-training", path_str(&p), "-o", path_str(&p)]);
    assert!(e.contains("is the input catalogue"), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), b"{\"nom\": \"A\", \"statut\": \"actif\"}\n");
    // A missing file and bad options.
    let e = fail(&["generate-training", "nope.jsonl", "-o", path_str(&out)]);
    assert!(e.contains("nope.jsonl"), "{e}");
    let e = fail(&["generate-training", path_str(&p), "-o", path_str(&out), "--count", "0"]);
    assert!(e.contains("--count must be at least 1"), "{e}");
    let e = fail(&["generate-training", path_str(&p), "-o", path_str(&out), "--llm-url", "http://127.0.0.1:1/v1"]);
    assert!(e.contains("only used with --method llm-based"), "{e}");
    let e = fail(&["generate-training", path_str(&p), "-o", path_str(&out), "--method", "llm-based"]);
    assert!(e.contains("needs --llm-model"), "{e}");
    assert!(!out.exists());
}

#[test]
fn llm_endpoint_down_is_reported_not_silent() {
    // Nothing listens on 127.0.0.1:9: every call fails, is retried, and the run stops with the error.
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o.jsonl");
    let e = fail(&[
        "generate-training",
        JSONL,
        "-o",
        path_str(&out),
        "--method",
        "llm-based",
        "--llm-url",
        "http://127.0.0.1:9/v1",
        "--llm-model",
        "m",
        "--llm-retries",
        "1",
        "--count",
        "5",
    ]);
    assert!(e.contains("calls in a row failed") && e.contains("127.0.0.1:9"), "{e}");
    assert!(!out.exists());
}

/// RAFT examples: a share of the questions carry retrieved records in the
/// user turn, in evaluate-rag's context block; the test questions stay bare.
#[test]
fn context_ratio_puts_records_in_some_prompts() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ds.jsonl");
    let summary = gen(JSONL, &out, &["--method", "augmented", "--count", "300", "--context-ratio", "0.3", "--split"]);
    let train = lines(&d.path().join("ds_train.jsonl"));
    let with: Vec<&(String, String, String)> = train.iter().filter(|e| e.1.starts_with("Contexte (extraits du catalogue) :\n")).collect();
    let share = with.len() as f64 / train.len() as f64;
    // 0.3 of the questions; fiches (about a fifth of the examples) never get records.
    assert!((0.15..=0.35).contains(&share), "{share}");
    // At most three records (--context-top-k 3): as many as BM25 finds for
    // the question, as at query time ("Qu'est-ce que X ?" matches X alone).
    let counts: Vec<usize> = with.iter().map(|e| e.1.matches("\n[").count()).collect();
    assert!(counts.iter().all(|&c| c <= 3) && counts.iter().filter(|&&c| c == 3).count() * 2 >= counts.len(), "{counts:?}");
    for e in &with {
        assert!(e.1.contains("\nQuestion : ") && e.1.ends_with("Si le contexte ne contient pas la réponse, dis-le."), "{}", e.1);
    }
    assert!(summary.contains("with retrieved records in the prompt"), "{summary}");
    let questions = std::fs::read_to_string(d.path().join("ds_test_questions.jsonl")).unwrap();
    assert!(!questions.contains("Contexte (extraits"), "test questions must be bare");
    let err =
        fail(&["generate-training", JSONL, "-o", path_str(&d.path().join("x.jsonl")), "--method", "augmented", "--context-ratio", "1.5"]);
    assert!(err.contains("--context-ratio must be between 0 and 1"), "{err}");
}
