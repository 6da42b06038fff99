//! `dyag_evaluate` on the tiny Gemma 3 fixture: the results file is valid,
//! its answers are the model's greedy answers, the summary is the file's
//! aggregates; cancelling, bad questions and a folder as output are reported.

mod capi_support;

use capi_support::*;
use dyag::ffi::error::DyagStatus as S;
use dyag::ffi::eval::*;
use dyag::ffi::generate::*;
use dyag::ffi::model::*;
use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};

/// The greedy answer through dyag_generate_chat, with the evaluation's default system prompt.
fn answer(model: DyagModel, question: &str, max_tokens: u32) -> String {
    let system = c(dyag::data::DEFAULT_SYSTEM_PROMPT);
    let q = c(question);
    let msgs =
        [DyagMessage { role: c"system".as_ptr(), content: system.as_ptr() }, DyagMessage { role: c"user".as_ptr(), content: q.as_ptr() }];
    let mut p = dyag_eval_default_params().sampling;
    p.max_tokens = max_tokens;
    unsafe {
        let mut g = std::mem::zeroed::<DyagGeneration>();
        expect(dyag_generate_chat(model, msgs.as_ptr(), 2, &p, None, null_mut(), &mut g), S::Ok);
        let text = if g.text.is_null() { String::new() } else { CStr::from_ptr(g.text).to_str().unwrap().to_string() };
        dyag_generation_free(&mut g);
        text
    }
}

unsafe extern "C" fn count(done: usize, total: usize, user: *mut c_void) -> bool {
    let calls = &mut *(user as *mut Vec<(usize, usize)>);
    calls.push((done, total));
    true
}

unsafe extern "C" fn stop_after_one(done: usize, _total: usize, _user: *mut c_void) -> bool {
    done < 1
}

#[test]
fn evaluation_writes_the_results_of_the_models_answers() {
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    let questions = cpath(&data("questions.jsonl"));
    let out = dir.path().join("results.json");
    let mut params = dyag_eval_default_params();
    params.sampling.max_tokens = 12;
    let mut calls: Vec<(usize, usize)> = Vec::new();
    let mut sum = unsafe { std::mem::zeroed::<DyagEvalSummary>() };
    unsafe {
        expect(
            dyag_evaluate(
                model,
                questions.as_ptr(),
                cpath(&out).as_ptr(),
                &params,
                Some(count),
                (&mut calls as *mut Vec<_>).cast(),
                &mut sum,
            ),
            S::Ok,
        );
    }
    assert_eq!(calls, vec![(0, 3), (1, 3), (2, 3)]);
    let results = dyag::eval::validate::read_results(&out).unwrap();
    assert_eq!(results.questions.len(), 3);
    assert_eq!(results.metadata.system, "base");
    assert_eq!(results.metadata.system_prompt.as_deref(), Some(dyag::data::DEFAULT_SYSTEM_PROMPT));
    let agg = results.aggregates.clone().unwrap();
    assert_eq!((sum.questions, sum.errors, sum.successes as u64), (3, 0, agg.successes.unwrap()));
    assert_eq!(sum.mean_f1, agg.mean_f1.unwrap());
    assert_eq!(sum.completion_tokens, agg.completion_tokens.unwrap());
    // The answers are the model's own (12 tokens, greedy, default system prompt).
    for q in &results.questions {
        assert_eq!(q.answer, answer(model, &q.question, 12).trim(), "question {}", q.id);
    }

    // With an adapter attached the run says so; without an output file only the summary comes back.
    let adapter = cpath(&fixtures().join("gemma3/peft_adapter"));
    unsafe {
        expect(dyag_model_load_adapter(model, adapter.as_ptr()), S::Ok);
        let out2 = dir.path().join("results2.json");
        expect(dyag_evaluate(model, questions.as_ptr(), cpath(&out2).as_ptr(), null(), None, null_mut(), null_mut()), S::Ok);
        let r = dyag::eval::validate::read_results(&out2).unwrap();
        assert_eq!(r.metadata.system, "finetuned");
        assert!(r.metadata.adapter.unwrap().ends_with("peft_adapter"));
        assert_eq!(r.questions[0].answer, answer(model, &r.questions[0].question, 256).trim());
        let mut s2 = std::mem::zeroed::<DyagEvalSummary>();
        expect(dyag_evaluate(model, questions.as_ptr(), null(), &params, None, null_mut(), &mut s2), S::Ok);
        assert_eq!(s2.questions, 3);
    }
    expect(dyag_model_free(model), S::Ok);
}

#[test]
fn evaluation_misuse_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    let questions = cpath(&data("questions.jsonl"));
    let out = dir.path().join("results.json");
    let mut params = dyag_eval_default_params();
    params.sampling.max_tokens = 4;
    unsafe {
        let e = expect(
            dyag_evaluate(model, questions.as_ptr(), cpath(&out).as_ptr(), &params, Some(stop_after_one), null_mut(), null_mut()),
            S::Cancelled,
        );
        assert_eq!(e, "cancelled");
        assert!(!out.exists(), "a cancelled evaluation writes nothing");
        let bad = data("bad_questions.jsonl");
        let e = expect(dyag_evaluate(model, cpath(&bad).as_ptr(), null(), &params, None, null_mut(), null_mut()), S::Data);
        assert!(e.starts_with(&format!("{}:2:", bad.display())), "{e}");
        let e = expect(
            dyag_evaluate(model, questions.as_ptr(), cpath(dir.path()).as_ptr(), &params, None, null_mut(), null_mut()),
            S::InvalidArgument,
        );
        assert!(e.contains("is a folder"), "{e}");
        assert_eq!(
            expect(dyag_evaluate(model, null(), null(), &params, None, null_mut(), null_mut()), S::NullPointer),
            "questions_path is NULL"
        );
        params.system_prompt = c"caf\xe9".as_ptr();
        expect(dyag_evaluate(model, questions.as_ptr(), null(), &params, None, null_mut(), null_mut()), S::InvalidUtf8);
    }
    expect(dyag_model_free(model), S::Ok);
    unsafe { expect(dyag_evaluate(model, questions.as_ptr(), null(), null(), None, null_mut(), null_mut()), S::InvalidHandle) };
}

/// An adapter remembers its training set's system prompt (training_summary.json,
/// as `dyag finetune` writes it), and the evaluation asks with it by default.
#[test]
fn evaluation_asks_with_the_adapters_training_prompt() {
    use dyag::ffi::adapter::*;
    use dyag::ffi::train::*;
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    let prompt = "Tu réponds sur Kubi et Archi.";
    let ds = dir.path().join("train.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(data("train.jsonl"))
        .unwrap()
        .lines()
        .map(|l| l.replacen("[{", &format!("[{{\"role\": \"system\", \"content\": \"{prompt}\"}}, {{"), 1))
        .collect();
    std::fs::write(&ds, lines.join("\n")).unwrap();
    let p = DyagTrainParams { epochs: 1, max_seq_len: 128, ..dyag_train_default_params() };
    let mut adapter = DyagAdapter::default();
    let saved = dir.path().join("adapter");
    unsafe {
        expect(
            dyag_train(model, cpath(&ds).as_ptr(), cpath(&dir.path().join("run")).as_ptr(), &p, None, null_mut(), &mut adapter, null_mut()),
            S::Ok,
        );
        expect(dyag_adapter_save(adapter, cpath(&saved).as_ptr()), S::Ok);
    }
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(saved.join("training_summary.json")).unwrap()).unwrap();
    assert_eq!(summary["system_prompt"], prompt);
    assert_eq!(summary["hyperparameters"]["epochs"], 1);
    assert_eq!(dyag::train::export::trained_system_prompt(&saved).as_deref(), Some(prompt));

    let mut params = dyag_eval_default_params();
    params.sampling.max_tokens = 2;
    let questions = cpath(&data("questions.jsonl"));
    let out = dir.path().join("results.json");
    let run_with = |m: DyagModel, params: &DyagEvalParams| unsafe {
        expect(dyag_evaluate(m, questions.as_ptr(), cpath(&out).as_ptr(), params, None, null_mut(), null_mut()), S::Ok);
        dyag::eval::validate::read_results(&out).unwrap().metadata.system_prompt
    };
    let run = |m: DyagModel| run_with(m, &params);
    expect(dyag_model_set_adapter(model, adapter), S::Ok);
    assert_eq!(run(model).as_deref(), Some(prompt));
    expect(dyag_model_remove_adapter(model), S::Ok);
    assert_eq!(run(model).as_deref(), Some(dyag::data::DEFAULT_SYSTEM_PROMPT));
    unsafe { expect(dyag_model_load_adapter(model, cpath(&saved).as_ptr()), S::Ok) };
    assert_eq!(run(model).as_deref(), Some(prompt));
    let mut ft = DyagModel::default();
    unsafe { expect(dyag_model_open_finetuned(cpath(&saved).as_ptr(), null(), null(), &mut ft), S::Ok) };
    assert_eq!(run(ft).as_deref(), Some(prompt));
    // "" asks without a system prompt.
    let none = DyagEvalParams { system_prompt: c"".as_ptr(), ..params };
    assert_eq!(run_with(ft, &none), None);
    expect(dyag_adapter_free(adapter), S::Ok);
    expect(dyag_model_free(model), S::Ok);
    expect(dyag_model_free(ft), S::Ok);
}
