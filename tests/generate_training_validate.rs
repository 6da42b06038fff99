//! `dyag validate-dataset` and the strict chat-dataset reader: every problem
//! reported with file:line; generated datasets pass.

use dyag::formats::chat_jsonl::{read_chat_dataset, validate_chat_dataset};
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn dyag(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dyag")).args(args).current_dir(ROOT).output().unwrap()
}

#[test]
fn generated_datasets_are_valid() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ds.jsonl");
    let o = dyag(&[
        "generate-training",
        "examples/catalogue/applications.md",
        "-o",
        out.to_str().unwrap(),
        "--method",
        "augmented",
        "--count",
        "300",
        "--split",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for part in ["train", "val", "test"] {
        let p = d.path().join(format!("ds_{part}.jsonl"));
        let o = dyag(&["validate-dataset", p.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{stdout}");
        assert!(stdout.contains(": OK, "), "{stdout}");
        let convs = read_chat_dataset(&p).unwrap();
        assert!(convs.iter().all(|c| c.messages.len() == 3 && c.messages[0].role == "system"));
    }
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.jsonl");
    let good = r#"{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}]}"#;
    let mut body: Vec<u8> = Vec::new();
    let lines: Vec<&[u8]> = vec![
        good.as_bytes(),                                                                        // 1 ok
        b"{\"messages\": [",                                                                    // 2 invalid JSON
        br#"{"conversation": []}"#,                                                             // 3 missing messages
        br#"{"messages": []}"#,                                                                 // 4 empty messages
        br#"{"messages":[{"role":"robot","content":"Q"},{"role":"assistant","content":"A"}]}"#, // 5 unknown role
        br#"{"messages":[{"role":"user","content":"Q"}]}"#,                                     // 6 no assistant
        br#"{"messages":[{"role":"assistant","content":"A"},{"role":"user","content":"Q"}]}"#,  // 7 bad order
        br#"{"messages":[{"role":"user","content":""},{"role":"assistant","content":"A"}]}"#,   // 8 empty content
        b"{\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9\"}]}",                        // 9 non-UTF-8
        b"",                                                                                    // 10 blank: warning
        good.as_bytes(),                                                                        // 11 duplicate: warning
    ];
    for l in &lines {
        body.extend_from_slice(l);
        body.push(b'\n');
    }
    std::fs::write(&p, &body).unwrap();
    let rep = validate_chat_dataset(&p).unwrap();
    let got: Vec<(usize, &str)> = rep.problems.iter().map(|pr| (pr.line, pr.msg.as_str())).collect();
    let expect = [
        (2, "invalid JSON"),
        (3, "missing \"messages\""),
        (4, "\"messages\" is empty"),
        (5, "unknown role \"robot\""),
        (6, "no assistant message"),
        (7, "must start with a user message"),
        (8, "empty content"),
        (9, "invalid UTF-8 byte 0xE9"),
    ];
    assert_eq!(got.len(), expect.len(), "{got:?}");
    for ((line, msg), (el, em)) in got.iter().zip(expect) {
        assert_eq!(*line, el);
        assert!(msg.contains(em), "line {line}: '{msg}' lacks '{em}'");
    }
    assert_eq!(rep.conversations, 2);
    assert_eq!(rep.warnings.len(), 2);
    assert!(rep.warnings[1].msg.contains("same conversation as line 1"));
    // The command prints them as file:line and fails.
    let o = dyag(&["validate-dataset", p.to_str().unwrap()]);
    assert!(!o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    let name = p.display().to_string();
    for (line, _) in expect {
        assert!(stdout.contains(&format!("{name}:{line}: ")), "line {line} missing from:\n{stdout}");
    }
    assert!(stdout.contains("INVALID, 8 problems"), "{stdout}");
    // The strict reader stops at the first problem, with its line.
    let e = read_chat_dataset(&p).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{name}:2: invalid JSON")), "{e}");
}

#[test]
fn empty_and_missing_files() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("empty.jsonl");
    std::fs::write(&p, b"").unwrap();
    let e = read_chat_dataset(&p).unwrap_err().to_string();
    assert!(e.ends_with("empty.jsonl:1: the file is empty: no conversation"), "{e}");
    let rep = validate_chat_dataset(&p).unwrap();
    assert!(!rep.is_valid());
    let o = dyag(&["validate-dataset", p.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("empty.jsonl:1: the file is empty"));
    let missing = Path::new(ROOT).join("no/such/file.jsonl");
    assert!(read_chat_dataset(&missing).unwrap_err().to_string().contains("no/such/file.jsonl"));
    let o = dyag(&["validate-dataset", "no/such/file.jsonl"]);
    assert!(!o.status.success());
    // BOM and CRLF are accepted.
    let p = d.path().join("bom.jsonl");
    std::fs::write(
        &p,
        b"\xEF\xBB\xBF{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\",\"content\":\"A\"}]}\r\n",
    )
    .unwrap();
    assert_eq!(read_chat_dataset(&p).unwrap().len(), 1);
}
