//! dyag's BLEU and ROUGE-L against sacreBLEU's and rouge-score's own numbers
//! on a committed sample (tests/data/eval/metrics_reference, see its README).

use dyag::eval::metrics::bleu::{corpus_bleu, sentence_bleu, tokenize_13a};
use dyag::eval::metrics::rouge::{rouge_l, rouge_tokens};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval/metrics_reference");

fn load() -> (Vec<(String, String, String)>, Value) {
    let sample = std::fs::read_to_string(format!("{DIR}/sample.jsonl")).unwrap();
    let pairs = sample
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["hypothesis"].as_str().unwrap().to_string(),
                v["reference"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/expected.json")).unwrap()).unwrap();
    (pairs, expected)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn tokenizers_match_the_python_packages() {
    let (pairs, expected) = load();
    let exp = expected["pairs"].as_array().unwrap();
    assert_eq!(exp.len(), pairs.len());
    for ((id, hyp, _), e) in pairs.iter().zip(exp) {
        assert_eq!(e["id"].as_str().unwrap(), id);
        assert_eq!(tokenize_13a(hyp), strings(&e["tokens_13a"]), "13a tokens of {id}");
        assert_eq!(rouge_tokens(hyp), strings(&e["rouge_tokens"]), "rouge-score tokens of {id}");
    }
}

#[test]
fn sentence_bleu_and_rouge_l_match() {
    let (pairs, expected) = load();
    let mut nonzero_bleu = 0;
    for ((id, hyp, reference), e) in pairs.iter().zip(expected["pairs"].as_array().unwrap()) {
        let want_bleu = e["sentence_bleu"].as_f64().unwrap();
        let got_bleu = sentence_bleu(hyp, reference);
        assert!((got_bleu - want_bleu).abs() < 1e-9, "{id}: sentence BLEU {got_bleu} vs sacreBLEU {want_bleu}");
        let want_rouge = e["rouge_l_f"].as_f64().unwrap();
        let got_rouge = rouge_l(hyp, reference);
        assert!((got_rouge - want_rouge).abs() < 1e-12, "{id}: ROUGE-L {got_rouge} vs rouge-score {want_rouge}");
        nonzero_bleu += usize::from(want_bleu > 0.0 && want_bleu < 100.0);
    }
    // The sample is only a check if most pairs land strictly between 0 and 100.
    assert!(nonzero_bleu >= 12, "{nonzero_bleu}");
}

#[test]
fn corpus_bleu_matches() {
    let (pairs, expected) = load();
    let all = corpus_bleu(pairs.iter().map(|(_, h, r)| (h.as_str(), r.as_str()))).unwrap();
    let want = expected["corpus_bleu"].as_f64().unwrap();
    assert!((all - want).abs() < 1e-9, "corpus BLEU {all} vs sacreBLEU {want}");
    let half = pairs.len() / 2;
    let first = corpus_bleu(pairs[..half].iter().map(|(_, h, r)| (h.as_str(), r.as_str()))).unwrap();
    let want = expected["corpus_bleu_first_half"].as_f64().unwrap();
    assert!((first - want).abs() < 1e-9, "corpus BLEU (first half) {first} vs sacreBLEU {want}");
}
