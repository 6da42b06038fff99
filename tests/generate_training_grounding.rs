//! Every fact in every rule-based and augmented answer comes from its record.
//!
//! For each example of large runs on the example catalogue (both the JSONL and
//! the Markdown form, French and English):
//! - every word of the answer is either a word of its record or a word of the
//!   templates (so nothing else was invented), and every number, URL and
//!   capitalised name of the answer is in the record;
//! - every key fact (keyword) is in the answer and in the record;
//! - the grounding check used for LLM answers accepts it;
//! - the question names its record;
//! - negative examples are about names absent from the catalogue and are answered with the refusal.

use dyag::data::grounding::{check, names_record, Grounding, RecordVocabulary};
use dyag::data::templates::template_vocabulary;
use dyag::data::text::{fold, words};
use dyag::data::{generate, read_catalogue, GenerateOptions, Lang, Method, ReadOptions};
use std::collections::HashSet;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn check_run(catalogue: &str, method: Method, count: usize, lang: Lang) -> usize {
    let cat = read_catalogue(&Path::new(ROOT).join(catalogue), &ReadOptions::default()).unwrap();
    let opts = GenerateOptions { method, count, seed: 3, lang, negative_ratio: 0.1, refusal: None };
    let g = generate(&cat, &opts).unwrap();
    assert!(!g.examples.is_empty());
    let tv = template_vocabulary();
    let all_names: HashSet<String> = cat.records.iter().map(|r| fold(&r.name)).collect();
    let refusal = dyag::data::templates::lang(lang).refusal;
    let mut checked = 0;
    for ex in &g.examples {
        let Some(r) = ex.record else {
            if ex.intent.starts_with("reverse-") {
                // A value shared by several records: the answer names every one of them.
                assert!(ex.facts.len() > 1, "{ex:?}");
                for f in &ex.facts {
                    assert!(all_names.contains(&fold(f)) && fold(&ex.answer).contains(&fold(f)), "{ex:?}");
                }
                continue;
            }
            assert_eq!(ex.intent, "negative");
            assert_eq!(ex.answer, refusal);
            assert!(ex.facts.is_empty());
            // Near misses (GIDAF-RH) contain a real name, never as a whole name.
            let tokens: HashSet<String> = ex.question.split(|c: char| !(c.is_alphanumeric() || c == '-')).map(fold).collect();
            assert!(tokens.is_disjoint(&all_names), "a negative question names a real record: {}", ex.question);
            continue;
        };
        let rec = &cat.records[r];
        if ex.intent == "missing" {
            // A field the record does not have: "the catalogue does not say", never a value.
            assert!(dyag::eval::judge::is_refusal(&ex.answer) && ex.answer.contains(&rec.name) && ex.facts.is_empty(), "{ex:?}");
            continue;
        }
        let rec_text = fold(&rec.text());
        let rec_words: HashSet<String> = words(&rec.text()).into_iter().collect();
        // 1. Nothing but record words and template words.
        for w in words(&ex.answer) {
            assert!(
                rec_words.contains(&w) || tv.contains(&w),
                "{catalogue} {method:?}: word '{w}' of the answer is neither in record {} nor in the templates: {:?}",
                rec.name,
                ex.answer
            );
            if w.chars().any(|c| c.is_ascii_digit()) {
                assert!(rec_words.contains(&w), "number '{w}' not in record {}: {}", rec.name, ex.answer);
            }
        }
        for token in ex.answer.split_whitespace() {
            if token.contains("://") {
                assert!(rec_text.contains(&fold(token.trim_end_matches('.'))), "URL {token} not in record {}", rec.name);
            }
        }
        // 2. Keywords: in the answer and in the record.
        for f in &ex.facts {
            assert!(fold(&ex.answer).contains(&fold(f)), "keyword '{f}' missing from the answer {:?}", ex.answer);
            assert!(rec_text.contains(&fold(f)), "keyword '{f}' not in record {}", rec.name);
        }
        assert!(!ex.facts.is_empty(), "an answer without key facts: {:?}", ex.answer);
        // 3. The LLM grounding check agrees (a reverse answer's only fact is the record's name, which that check does not count).
        let v = RecordVocabulary::new(rec);
        if !ex.intent.starts_with("reverse-") {
            assert!(
                matches!(check(&ex.answer, &v), Grounding::Grounded { .. }),
                "grounding check refuses {:?} for {}",
                ex.answer,
                rec.name
            );
        }
        // 4. The question is about this record (a reverse question gives a value and the answer names the record).
        if ex.intent.starts_with("reverse-") {
            assert_eq!(ex.facts, std::slice::from_ref(&rec.name), "{ex:?}");
        } else {
            assert!(names_record(&ex.question, rec), "question does not name {}: {}", rec.name, ex.question);
        }
        checked += 1;
    }
    checked
}

#[test]
fn rule_based_answers_come_from_their_record() {
    for cat in ["examples/catalogue/applications.jsonl", "examples/catalogue/applications.md"] {
        for lang in [Lang::Fr, Lang::En] {
            // More than the pool: every candidate is checked.
            assert!(check_run(cat, Method::RuleBased, 10_000, lang) >= 300);
        }
    }
}

#[test]
fn augmented_answers_come_from_their_record() {
    for cat in ["examples/catalogue/applications.jsonl", "examples/catalogue/applications.md"] {
        for lang in [Lang::Fr, Lang::En] {
            assert!(check_run(cat, Method::Augmented, 2000, lang) >= 1500);
        }
    }
}

#[test]
fn grounding_check_rejects_invented_facts() {
    // The check must be able to fail: the same answers with one fact swapped for another record's.
    let cat = read_catalogue(&Path::new(ROOT).join("examples/catalogue/applications.jsonl"), &ReadOptions::default()).unwrap();
    let gidaf = cat.records.iter().find(|r| r.name == "GIDAF").unwrap();
    let v = RecordVocabulary::new(gidaf);
    for bad in [
        "GIDAF est hébergé chez OVHcloud, région Gravelines.",
        "GIDAF a été mis en service en 2016.",
        "GIDAF utilise les technologies suivantes : COBOL et DB2.",
        "GIDAF est accessible à l'adresse https://korrigan.novaterre.example",
        "Le responsable de GIDAF est Yann Le Goff.",
    ] {
        assert!(matches!(check(bad, &v), Grounding::Ungrounded(_)), "accepted: {bad}");
    }
}
