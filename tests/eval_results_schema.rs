//! Reading results files: files from other tools in the same schema are
//! accepted; bad ones are refused with the file, the line and the JSON path.

use dyag::eval::validate::{parse_results, read_results};
use std::path::Path;

fn err(text: &str) -> String {
    parse_results(Path::new("res.json"), text).unwrap_err().to_string()
}

const GOOD_QUESTION: &str = r#"{"id": "q1", "question": "Qui héberge GIDAF ?", "answer": "La DSI.", "success": true}"#;

#[test]
fn minimal_file_from_another_tool_is_accepted_and_aggregated() {
    let text = format!(
        r#"{{"schema_version": 1, "metadata": {{"system": "other-rag", "tool": "my-rag 2.1"}}, "questions": [{GOOD_QUESTION},
        {{"id": "q2", "question": "Où ?", "expected": "À Lyon.", "answer": "", "error": "timeout", "success": false,
          "scores": {{"f1": 0.0, "bleu": null}}, "sources": [{{"id": "doc-7"}}], "extra_field": [1, 2]}}]}}"#
    );
    let r = parse_results(Path::new("res.json"), &text).unwrap();
    assert_eq!(r.metadata.system, "other-rag");
    assert_eq!(r.questions[0].scores.f1, None);
    assert_eq!(r.questions[1].scores.f1, Some(0.0));
    // Aggregates were absent: computed, with unmeasured metrics left missing.
    let a = r.aggregates.unwrap();
    assert_eq!(a.questions, 2);
    assert_eq!(a.success_rate, Some(0.5));
    assert_eq!(a.mean_f1, Some(0.0));
    assert_eq!(a.mean_rouge_l, None);
    assert_eq!(a.latency_total_ms, None);
    assert_eq!(a.tokens_per_second, None);
    assert_eq!(a.prompt_tokens, None);
    assert_eq!(a.sourced_rate, Some(0.5));
}

#[test]
fn wrong_schema_version_names_file_line_and_versions() {
    let e = err("{\n  \"schema_version\": 7,\n  \"metadata\": {\"system\": \"rag\"},\n  \"questions\": []\n}");
    assert!(e.starts_with("res.json:2: schema_version 7 is not supported: this dyag reads results schema versions [1, 2]"), "{e}");
    let e = err("{\"metadata\": {\"system\": \"rag\"},\n\"schema_version\": \"1\", \"questions\": []}");
    assert!(e.starts_with("res.json:2: schema_version must be the integer 2, found \"1\""), "{e}");
    let e = err("{\"metadata\": {\"system\": \"rag\"}, \"questions\": []}");
    assert!(e.starts_with("res.json: missing field `schema_version`"), "{e}");
    // A newer file with fields this version does not know still gets the version error first.
    let e = err("{\"schema_version\": 3, \"metadata\": 5}");
    assert!(e.contains("schema_version 3 is not supported"), "{e}");
}

#[test]
fn missing_fields_and_bad_types_name_the_json_path_and_line() {
    let head = "{\n\"schema_version\": 1,\n\"metadata\": {\"system\": \"rag\"},\n\"questions\": [\n";
    // Line 6: the second question lacks "success".
    let e = err(&format!("{head}{GOOD_QUESTION},\n{{\"id\": \"q2\", \"question\": \"?\", \"answer\": \"x\"}}\n]}}"));
    assert!(e.starts_with("res.json:6: questions[1]: missing field `success`"), "{e}");
    // Line 5: a string where a number is expected.
    let e = err(&format!("{head}{{\"id\": \"q1\", \"question\": \"?\", \"success\": true, \"scores\": {{\"f1\": \"high\"}}}}\n]}}"));
    assert!(e.starts_with("res.json:5: questions[0].scores.f1: invalid type: string \"high\", expected f64"), "{e}");
    let e = err(&format!("{head}{{\"id\": \"q1\", \"question\": \"?\", \"success\": \"yes\"}}\n]}}"));
    assert!(e.starts_with("res.json:5: questions[0].success: invalid type: string \"yes\", expected a boolean"), "{e}");
    let e = err(&format!("{head}{{\"id\": \"q1\", \"question\": \"?\", \"success\": true, \"prompt_tokens\": -3}}\n]}}"));
    assert!(e.starts_with("res.json:5: questions[0].prompt_tokens: invalid value: integer `-3`"), "{e}");
    let e = err("{\"schema_version\": 1,\n\"metadata\": {},\n\"questions\": []}");
    assert!(e.starts_with("res.json:2: metadata: missing field `system`"), "{e}");
    let e = err("{\"schema_version\": 1, \"metadata\": {\"system\": \"rag\"}, \"questions\": {}}");
    assert!(e.contains("questions: invalid type: map, expected a sequence"), "{e}");
}

#[test]
fn syntax_errors_and_trailing_data() {
    let e = err("{\"schema_version\": 1,\n\"metadata\": {\"system\": \"rag\"},\n\"questions\": [],\n}");
    assert!(e.starts_with("res.json:4: invalid JSON: trailing comma"), "{e}");
    let e = err("{\"schema_version\": 1, \"metadata\": {\"system\": \"rag\"}, \"questions\": []}\n{}");
    assert!(e.starts_with("res.json:2: invalid JSON: trailing characters"), "{e}");
}

#[test]
fn values_out_of_range_or_inconsistent_are_refused() {
    let file = |q: &str| format!("{{\"schema_version\": 1, \"metadata\": {{\"system\": \"rag\"}}, \"questions\": [{q}]}}");
    let e = err(&file(r#"{"id": "q1", "question": "?", "success": true, "scores": {"f1": 1.5}}"#));
    assert_eq!(e, "res.json: questions[0].scores.f1: 1.5 is outside [0, 1]");
    let e = err(&file(r#"{"id": "q1", "question": "?", "success": true, "scores": {"bleu": 35.2}}"#));
    assert_eq!(e, "res.json: questions[0].scores.bleu: 35.2 is outside [0, 1] (BLEU is stored divided by 100)");
    let e = err(&file(r#"{"id": "q1", "question": "?", "success": true, "latency": {"total_ms": -1}}"#));
    assert_eq!(e, "res.json: questions[0].latency.total_ms: -1 is not a non-negative number");
    let e = err(&file(&format!("{GOOD_QUESTION}, {GOOD_QUESTION}")));
    assert_eq!(e, "res.json: questions[1].id: duplicate id \"q1\" (also questions[0])");
    let e = err(&file(r#"{"id": "q1", "question": "?", "success": true, "error": "boom"}"#));
    assert_eq!(e, "res.json: questions[0]: success is true but error is set");
    let e = err("{\"schema_version\": 1, \"metadata\": {\"system\": \" \"}, \"questions\": []}");
    assert!(e.starts_with("res.json: metadata.system: must name the system"), "{e}");
    let e = err("{\"schema_version\": 1, \"metadata\": {\"system\": \"rag\"}, \"questions\": [], \"aggregates\": {\"questions\": 0, \"success_rate\": 2}}");
    assert_eq!(e, "res.json: aggregates.success_rate: 2 is outside [0, 1]");
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let e = read_results(&missing).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:", missing.display())), "{e}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"schema_version\": 1, \"x\": \"\xff\"}").unwrap();
    let e = read_results(&bad).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: not UTF-8", bad.display())), "{e}");
}

/// docs/results-schema.json and the Rust types name the same fields: a fully
/// populated results file is walked alongside the schema's properties.
#[test]
fn json_schema_lists_exactly_the_fields_dyag_writes() {
    use dyag::eval::results::*;
    use serde_json::Value;
    let q = QuestionResult {
        id: "q1".into(),
        question: "?".into(),
        expected: Some("x".into()),
        keywords: vec!["x".into()],
        kind: Some("direct".into()),
        apps: vec!["A".into()],
        answer: "x".into(),
        error: Some("e".into()),
        latency: Some(Latency { time_to_first_token_ms: Some(1.0), total_ms: Some(2.0) }),
        prompt_tokens: Some(1),
        completion_tokens: Some(1),
        scores: Scores {
            exact_match: Some(true),
            keyword_recall: Some(1.0),
            f1: Some(1.0),
            rouge_l: Some(1.0),
            bleu: Some(1.0),
            correct: Some(true),
            echo: Some(false),
            refusal: Some(false),
        },
        success: false,
        sources: Some(vec![Source { id: "d".into(), title: Some("t".into()), score: Some(1.0) }]),
        retrieval_hit: Some(true),
    };
    let kind = KindAggregates {
        questions: 1,
        judged: 1,
        correct: 1,
        correct_rate: Some(1.0),
        correct_ci95: Some([0.2, 1.0]),
        mean_keyword_recall: Some(1.0),
        echoes: 0,
        refusal_rate: Some(0.0),
        retrieval_hit_rate: Some(1.0),
    };
    let d = Some(Distribution { mean: 1.0, p50: 1.0, p95: 1.0 });
    let file = ResultsFile {
        schema_version: SCHEMA_VERSION,
        metadata: Metadata {
            system: "rag".into(),
            tool: Some("t".into()),
            dyag_version: Some("v".into()),
            model: Some("m".into()),
            base_model: Some("b".into()),
            adapter: Some("a".into()),
            device: Some("cpu".into()),
            sampling: Some(Sampling { temperature: Some(0.0), top_k: Some(0), top_p: Some(1.0), max_tokens: Some(1), seed: Some(0) }),
            system_prompt: Some("s".into()),
            questions_file: Some("q".into()),
            retrieval: Some(Retrieval {
                method: "bm25".into(),
                library: Some("l".into()),
                analyzer: Some("a".into()),
                top_k: 3,
                corpus: Some("c".into()),
                documents: Some(1),
            }),
            started_at: Some("t".into()),
            finished_at: Some("t".into()),
        },
        aggregates: Some(Aggregates {
            questions: 1,
            successes: Some(1),
            errors: Some(0),
            success_rate: Some(1.0),
            exact_match_rate: Some(1.0),
            mean_keyword_recall: Some(1.0),
            mean_f1: Some(1.0),
            mean_rouge_l: Some(1.0),
            mean_bleu: Some(1.0),
            corpus_bleu: Some(1.0),
            expected_count: Some(1),
            keywords_count: Some(1),
            latency_total_ms: d.clone(),
            latency_first_token_ms: d,
            tokens_per_second: Some(1.0),
            prompt_tokens: Some(1),
            completion_tokens: Some(1),
            total_tokens: Some(2),
            sourced_rate: Some(1.0),
            correct_rate: Some(1.0),
            correct_ci95: Some([0.2, 1.0]),
            echoes: Some(0),
            refusal_rate: Some(0.0),
            retrieval_hit_rate: Some(1.0),
            per_kind: [("direct".to_string(), kind)].into_iter().collect(),
        }),
        questions: vec![q],
    };
    let written = serde_json::to_value(&file).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/results-schema.json")).unwrap()).unwrap();

    fn walk(path: &str, value: &Value, schema: &Value) {
        match value {
            // A map with free keys (per_kind): every value against the same schema.
            Value::Object(map) if schema.get("properties").is_none() && schema["additionalProperties"].is_object() => {
                for (k, v) in map {
                    walk(&format!("{path}.{k}"), v, &schema["additionalProperties"]);
                }
            }
            Value::Object(map) => {
                let props = schema["properties"].as_object().unwrap_or_else(|| panic!("{path}: schema has no properties"));
                for (k, v) in map {
                    let sub = props.get(k).unwrap_or_else(|| panic!("{path}.{k} is written but not in the JSON Schema"));
                    walk(&format!("{path}.{k}"), v, sub);
                }
                for k in props.keys() {
                    assert!(map.contains_key(k), "{path}.{k} is in the JSON Schema but dyag does not write it");
                }
            }
            Value::Array(items) if schema.get("items").is_some() => {
                for v in items {
                    walk(&format!("{path}[]"), v, &schema["items"]);
                }
            }
            _ => {}
        }
    }
    walk("$", &written, &schema);
}

/// Finding 10 of the hardening review: the stored aggregates are checked
/// against the questions (and replaced by the recomputed ones), within
/// rounding.
#[test]
fn stored_aggregates_must_match_the_questions() {
    let questions = r#""questions": [
        {"id": "q1", "question": "?", "answer": "oui", "success": true, "keywords": ["oui"], "scores": {"keyword_recall": 1.0}},
        {"id": "q2", "question": "?", "answer": "non", "success": true, "keywords": ["oui"], "scores": {"keyword_recall": 0.0}},
        {"id": "q3", "question": "?", "answer": "", "error": "timeout", "success": false, "keywords": ["oui"], "scores": {"keyword_recall": 0.0}}]"#;
    let file = |aggregates: &str| {
        format!("{{\"schema_version\": 2, \"metadata\": {{\"system\": \"rag\"}}, \"aggregates\": {aggregates}, {questions}}}")
    };
    // Exact, rounded to 3 decimals, or partial: accepted, and the figures used are the recomputed ones.
    for ok in [
        r#"{"questions": 3, "successes": 2, "errors": 1, "success_rate": 0.6666666666666666, "mean_keyword_recall": 0.3333333333333333}"#,
        r#"{"questions": 3, "success_rate": 0.667, "mean_keyword_recall": 0.333, "mean_f1": null}"#,
        r#"{"questions": 3}"#,
    ] {
        let r = parse_results(Path::new("res.json"), &file(ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
        let a = r.aggregates.unwrap();
        assert_eq!(a.success_rate, Some(2.0 / 3.0));
        assert_eq!(a.keywords_count, Some(3));
    }
    for (bad, want) in [
        (
            r#"{"questions": 3, "success_rate": 1.0}"#,
            "res.json: aggregates.success_rate: the file says 1.0, but its questions give 0.6666666666666666",
        ),
        (r#"{"questions": 3, "success_rate": 0.67}"#, "res.json: aggregates.success_rate: the file says 0.67, but"),
        (r#"{"questions": 4}"#, "res.json: aggregates.questions: the file says 4, but its questions give 3"),
        (r#"{"questions": 3, "errors": 0}"#, "res.json: aggregates.errors: the file says 0, but its questions give 1"),
        // No question has an f1 score: the file cannot have a mean.
        (r#"{"questions": 3, "mean_f1": 0.9}"#, "res.json: aggregates.mean_f1: the file says 0.9, but its questions give no value"),
        (
            r#"{"questions": 3, "per_kind": {"direct": {"questions": 3}}}"#,
            "res.json: aggregates.per_kind.direct: the file says {…}, but its questions give no value",
        ),
    ] {
        let e = err(&file(bad));
        assert!(e.starts_with(want), "{bad}: {e}");
        assert!(e.contains("beyond rounding, 0.0005"), "{e}");
    }
}

/// Findings 11 and 13: a key twice in one object, CR-only line ends and a
/// stray BOM are refused with their line.
#[test]
fn duplicate_keys_cr_line_ends_and_stray_boms_are_refused() {
    let e = err("{\"schema_version\": 2,\n\"metadata\": {\"system\": \"rag\", \"tool\": \"a\", \"tool\": \"b\"},\n\"questions\": []}");
    assert!(e.starts_with("res.json:2: duplicate key \"tool\" in metadata (column"), "{e}");
    let e = err("{\"schema_version\": 2, \"metadata\": {\"system\": \"rag\"}, \"questions\": [],\n\"aggregates\": {\"questions\": 0, \"per_kind\": {\"a\": {\"questions\": 0}, \"a\": {\"questions\": 0}}}}");
    assert!(e.starts_with("res.json:2: duplicate key \"a\" in aggregates.per_kind (column"), "{e}");
    let e = err("{\"schema_version\": 2,\r\"metadata\": {\"system\": \"rag\"},\r\"questions\": []}");
    assert!(e.starts_with("res.json:1: carriage return (CR) without a line feed at byte 22"), "{e}");
    let e = err("{\"schema_version\": 2,\n\u{feff}\"metadata\": {\"system\": \"rag\"},\n\"questions\": []}");
    assert!(e.starts_with("res.json:2: byte order mark (U+FEFF) at byte 1"), "{e}");
    // CRLF is fine.
    parse_results(Path::new("res.json"), "{\"schema_version\": 2,\r\n\"metadata\": {\"system\": \"rag\"},\r\n\"questions\": []}\r\n")
        .unwrap();
}
