//! The evaluation loop with deterministic generators: per-question scores,
//! errors, measurements, aggregates, the written file, and the RAG path.

mod eval_support;

use dyag::eval::metrics::{bleu, overlap, rouge};
use dyag::eval::prompt::{DirectPrompt, DEFAULT_SYSTEM_PROMPT};
use dyag::eval::questions::read_questions;
use dyag::eval::rag_prompt::RagPrompt;
use dyag::eval::results::{Metadata, SCHEMA_VERSION};
use dyag::eval::runner::run_evaluation;
use dyag::eval::validate::read_results;
use dyag::infer::SamplingParams;
use dyag::rag::{load_catalogue, ContextLang};
use eval_support::{answer, ContextReader, Scripted, ScriptedGenerator, DATA};
use std::path::Path;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn scripted() -> ScriptedGenerator {
    ScriptedGenerator::new(vec![
        (
            "Qu'est-ce que GIDAF ?",
            answer("GIDAF est une application de gestion des dossiers administratifs et financiers.", 30, 14, 10, 100),
        ),
        ("Qui héberge GIDAF ?", answer("GIDAF est hébergé par la DSI.", 28, 8, 20, 200)),
        // Same as expected up to case, « », punctuation and spaces.
        ("À quoi sert SIRH ?", answer("  « SIRH » gère la PAIE, les congés et les carrières des agents !  ", 29, 16, 30, 300)),
        ("Quelles technologies utilise le Portail Agents ?", Scripted::Fail("device lost".into())),
        ("Qui est responsable de SIRH ?", answer("   ", 27, 0, 400, 400)),
        ("Où sont archivés les documents signés ?", answer("Dans ArchivNum.", 31, 4, 50, 500)),
    ])
}

fn metadata(system: &str) -> Metadata {
    Metadata { system: system.into(), base_model: Some("test-base".into()), device: Some("cpu".into()), ..Default::default() }
}

#[test]
fn scores_measurements_and_aggregates() {
    let questions = read_questions(Path::new(&format!("{DATA}/questions.jsonl"))).unwrap();
    let mut generator = scripted();
    let prompts = DirectPrompt { system_prompt: Some(DEFAULT_SYSTEM_PROMPT.to_string()) };
    let results = run_evaluation(&mut generator, &questions, &prompts, &SamplingParams::greedy(64), metadata("finetuned"), false).unwrap();

    assert_eq!(results.schema_version, SCHEMA_VERSION);
    assert_eq!(results.metadata.system, "finetuned");
    assert_eq!(results.metadata.model.as_deref(), Some("scripted test generator"));
    assert_eq!(results.metadata.sampling.as_ref().unwrap().max_tokens, Some(64));
    assert!(results.metadata.started_at.as_deref().unwrap().ends_with('Z'));

    // Messages: the default system prompt, then the question alone.
    assert_eq!(generator.seen.len(), 6);
    assert_eq!(generator.seen[0][0].role, "system");
    assert_eq!(generator.seen[0][0].content, DEFAULT_SYSTEM_PROMPT);
    assert_eq!(generator.seen[0][1].content, "Qu'est-ce que GIDAF ?");

    let q = &results.questions;
    assert_eq!(q.len(), 6);
    // q1: a perfect answer.
    assert_eq!(q[0].scores.exact_match, Some(true));
    assert_eq!(q[0].scores.keyword_recall, Some(1.0));
    assert_eq!(q[0].scores.f1, Some(1.0));
    assert_eq!(q[0].scores.rouge_l, Some(1.0));
    assert!(close(q[0].scores.bleu.unwrap(), 1.0));
    assert_eq!(q[0].latency.as_ref().unwrap().time_to_first_token_ms, Some(10.0));
    assert_eq!((q[0].prompt_tokens, q[0].completion_tokens), (Some(30), Some(14)));
    // q2: half of the key facts; the other scores are the metric functions' values.
    let (a2, e2) = ("GIDAF est hébergé par la DSI.", "GIDAF est hébergé par la DSI, dans le datacenter de Toulouse.");
    assert_eq!(q[1].scores.exact_match, Some(false));
    assert_eq!(q[1].scores.keyword_recall, Some(0.5));
    assert!(close(q[1].scores.f1.unwrap(), overlap::token_f1(a2, e2)));
    assert!(close(q[1].scores.rouge_l.unwrap(), rouge::rouge_l(a2, e2)));
    assert!(close(q[1].scores.bleu.unwrap(), bleu::sentence_bleu(a2, e2) / 100.0));
    assert!(q[1].scores.f1.unwrap() > 0.0 && q[1].scores.f1.unwrap() < 1.0);
    // q3: exact after normalisation; the stored answer is trimmed.
    assert_eq!(q[2].scores.exact_match, Some(true));
    assert_eq!(q[2].answer, "« SIRH » gère la PAIE, les congés et les carrières des agents !");
    // q4: the generator failed: recorded, scored as an empty answer, no tokens.
    assert_eq!(q[3].error.as_deref(), Some("device lost"));
    assert!(!q[3].success);
    assert_eq!(q[3].scores.keyword_recall, Some(0.0));
    assert_eq!(q[3].scores.f1, Some(0.0));
    assert_eq!(q[3].prompt_tokens, None);
    assert!(q[3].latency.as_ref().unwrap().time_to_first_token_ms.is_none());
    // q5: an empty answer is not a success, and has no first-token time.
    assert!(!q[4].success);
    assert!(q[4].error.is_none());
    assert_eq!(q[4].latency.as_ref().unwrap().time_to_first_token_ms, None);
    assert_eq!(q[4].latency.as_ref().unwrap().total_ms, Some(400.0));
    // q6: no expected answer → only key-fact recall.
    assert_eq!(q[5].scores.keyword_recall, Some(1.0));
    assert_eq!((q[5].scores.exact_match, q[5].scores.f1, q[5].scores.rouge_l, q[5].scores.bleu), (None, None, None, None));
    assert!(q.iter().all(|r| r.sources.is_none()));

    let a = results.aggregates.as_ref().unwrap();
    assert_eq!(a.questions, 6);
    assert_eq!((a.successes, a.errors), (Some(4), Some(1)));
    assert!(close(a.success_rate.unwrap(), 4.0 / 6.0));
    assert!(close(a.exact_match_rate.unwrap(), 0.4));
    assert!(close(a.mean_keyword_recall.unwrap(), 3.5 / 6.0));
    assert_eq!((a.expected_count, a.keywords_count), (Some(5), Some(6)));
    let f1s: Vec<f64> = q.iter().filter_map(|r| r.scores.f1).collect();
    assert_eq!(f1s.len(), 5);
    assert!(close(a.mean_f1.unwrap(), f1s.iter().sum::<f64>() / 5.0));
    let corpus = bleu::corpus_bleu(q.iter().filter_map(|r| r.expected.as_deref().map(|e| (r.answer.as_str(), e)))).unwrap() / 100.0;
    assert!(close(a.corpus_bleu.unwrap(), corpus));
    // Latency over the 5 answers without error: 100..500 ms.
    let lat = a.latency_total_ms.as_ref().unwrap();
    assert!(close(lat.mean, 300.0) && close(lat.p50, 300.0) && close(lat.p95, 480.0));
    assert!(close(a.latency_first_token_ms.as_ref().unwrap().mean, 27.5));
    assert_eq!(a.prompt_tokens, Some(30 + 28 + 29 + 27 + 31));
    assert_eq!(a.completion_tokens, Some(14 + 8 + 16 + 4));
    assert_eq!(a.total_tokens, Some(145 + 42));
    assert!(close(a.tokens_per_second.unwrap(), 42.0 / 1.5));
    assert_eq!(a.sourced_rate, None);

    // Written atomically, read back identical through the validating reader.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/results.json");
    results.write(&path).unwrap();
    assert_eq!(read_results(&path).unwrap(), results);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("results.json")]);
}

#[test]
fn empty_system_prompt_sends_the_question_alone() {
    let questions = read_questions(Path::new(&format!("{DATA}/questions.jsonl"))).unwrap();
    let mut generator = scripted();
    let prompts = DirectPrompt { system_prompt: Some("  ".into()) };
    run_evaluation(&mut generator, &questions[..1], &prompts, &SamplingParams::greedy(8), metadata("finetuned"), false).unwrap();
    assert_eq!(generator.seen[0].len(), 1);
    assert_eq!(generator.seen[0][0].role, "user");
}

#[test]
fn cancellation_stops_the_run() {
    let questions = read_questions(Path::new(&format!("{DATA}/questions.jsonl"))).unwrap();
    let mut generator =
        ScriptedGenerator::new(vec![("Qu'est-ce que GIDAF ?", answer("x", 1, 1, 1, 1)), ("Qui héberge GIDAF ?", Scripted::Cancel)]);
    let prompts = DirectPrompt { system_prompt: None };
    let err = run_evaluation(&mut generator, &questions, &prompts, &SamplingParams::greedy(8), metadata("finetuned"), false).unwrap_err();
    assert!(matches!(err, dyag::Error::Cancelled));
    assert_eq!(generator.seen.len(), 2);
}

/// RAG over both catalogue formats: the right record comes first for every
/// question, the prompt carries it, and its sources are recorded.
#[test]
fn rag_retrieves_the_right_records_and_records_sources() {
    let questions = read_questions(Path::new(&format!("{DATA}/questions.jsonl"))).unwrap();
    for (file, ids) in [
        // Sources are named by the records' names, whatever the format.
        ("catalogue.jsonl", ["GIDAF", "GIDAF", "SIRH", "Portail Agents", "SIRH", "ArchivNum"]),
        ("catalogue.md", ["GIDAF", "GIDAF", "SIRH", "Portail Agents", "SIRH", "ArchivNum"]),
    ] {
        let docs = load_catalogue(Path::new(&format!("{DATA}/{file}"))).unwrap();
        assert_eq!(docs.len(), 6, "{file}");
        let prompts = RagPrompt::new(docs, 3, Some(DEFAULT_SYSTEM_PROMPT.into()), ContextLang::French).unwrap();
        let mut generator = ContextReader { seen: Vec::new() };
        let results = run_evaluation(&mut generator, &questions, &prompts, &SamplingParams::greedy(64), metadata("rag"), false).unwrap();
        for (r, want) in results.questions.iter().zip(ids) {
            let sources = r.sources.as_ref().unwrap();
            // Only records sharing a term with the question are retrieved, at most 3.
            assert!((1..=3).contains(&sources.len()), "{file} {}", r.id);
            assert_eq!(sources[0].id, want, "{file} {}: {sources:?}", r.id);
            assert!(sources.windows(2).all(|w| w[0].score >= w[1].score));
            // The context reader answers with record [1]: all key facts are there.
            assert_eq!(r.scores.keyword_recall, Some(1.0), "{file} {}: {}", r.id, r.answer);
        }
        let user = &generator.seen[1].last().unwrap().content;
        assert!(user.starts_with("Contexte (extraits du catalogue) :\n"), "{user}");
        assert!(user.contains("Toulouse"));
        assert!(user.ends_with("Question : Qui héberge GIDAF ?\nRéponds à la question en t'appuyant uniquement sur le contexte ci-dessus. Si le contexte ne contient pas la réponse, dis-le."));
        let a = results.aggregates.unwrap();
        assert_eq!(a.sourced_rate, Some(1.0));
        assert_eq!(a.mean_keyword_recall, Some(1.0));
    }
}
