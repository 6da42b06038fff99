//! The C ABI end to end on the tiny Gemma 3 fixture: generation equals the
//! engine's own, streaming and cancelling, training (the loss goes down,
//! cancelling), saving and attaching adapters.

mod capi_support;

use capi_support::*;
use dyag::ffi::adapter::*;
use dyag::ffi::error::DyagStatus as S;
use dyag::ffi::generate::*;
use dyag::ffi::model::*;
use dyag::ffi::train::*;
use dyag::formats::chat::ChatMessage;
use dyag::infer::SamplingParams;
use std::ffi::{c_char, c_void, CStr};
use std::ptr::{null, null_mut};

const QUESTION: &CStr = c"Qui gère Kubi ?";

fn greedy(max_tokens: u32) -> DyagSamplingParams {
    DyagSamplingParams { temperature: 0.0, max_tokens, ..dyag_sampling_default_params() }
}

/// Generates greedily; returns (tokens, text, stop reason).
fn ask(model: DyagModel, max_tokens: u32) -> (Vec<u32>, String, i32) {
    let msgs = [DyagMessage { role: c"user".as_ptr(), content: QUESTION.as_ptr() }];
    unsafe {
        let mut g = std::mem::zeroed::<DyagGeneration>();
        expect(dyag_generate_chat(model, msgs.as_ptr(), 1, &greedy(max_tokens), None, null_mut(), &mut g), S::Ok);
        let tokens = if g.n_tokens == 0 { Vec::new() } else { std::slice::from_raw_parts(g.tokens, g.n_tokens).to_vec() };
        let text = if g.text.is_null() { String::new() } else { CStr::from_ptr(g.text).to_str().unwrap().to_string() };
        assert_eq!(text.len(), g.text_len);
        let stop = g.stop_reason;
        expect(dyag_generation_free(&mut g), S::Ok);
        assert!(g.text.is_null() && g.tokens.is_null(), "freeing zeroes the result");
        expect(dyag_generation_free(&mut g), S::Ok);
        (tokens, text, stop)
    }
}

struct Stream {
    pieces: Vec<String>,
    stop_after: usize,
}

unsafe extern "C" fn collect(piece: *const c_char, len: usize, user: *mut c_void) -> bool {
    let s = &mut *(user as *mut Stream);
    s.pieces.push(String::from_utf8(std::slice::from_raw_parts(piece.cast::<u8>(), len).to_vec()).unwrap());
    s.pieces.len() < s.stop_after
}

#[test]
fn generation_matches_the_engine_and_streams() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path());
    let model = open(&path);

    // The engine called directly, the same way.
    let engine = dyag::infer::engine::load_engine(Some(path.to_str().unwrap()), None).unwrap();
    let prompt = engine.chat_prompt(&[ChatMessage::user(QUESTION.to_str().unwrap())]).unwrap();
    let want = engine.generate_tokens(&prompt, &SamplingParams::greedy(12), &mut |_| true).unwrap();
    let (tokens, text, stop) = ask(model, 12);
    assert_eq!(tokens, want.tokens);
    assert_eq!(text, want.generation.text);
    let want_stop = match want.generation.stop {
        dyag::infer::StopReason::Eos => DyagStopReason::Eos,
        dyag::infer::StopReason::Length => DyagStopReason::Length,
        dyag::infer::StopReason::Cancelled => DyagStopReason::Cancelled,
        dyag::infer::StopReason::StopText => DyagStopReason::StopText,
    };
    assert_eq!(stop, want_stop as i32);

    // Streaming: the pieces make the text; a callback that says stop ends it early, with status OK.
    let msgs = [DyagMessage { role: c"user".as_ptr(), content: QUESTION.as_ptr() }];
    unsafe {
        let mut s = Stream { pieces: Vec::new(), stop_after: usize::MAX };
        let mut g = std::mem::zeroed::<DyagGeneration>();
        expect(dyag_generate_chat(model, msgs.as_ptr(), 1, &greedy(12), Some(collect), (&mut s as *mut Stream).cast(), &mut g), S::Ok);
        assert_eq!(s.pieces.concat(), text);
        dyag_generation_free(&mut g);

        let mut s = Stream { pieces: Vec::new(), stop_after: 2 };
        expect(dyag_generate_chat(model, msgs.as_ptr(), 1, &greedy(12), Some(collect), (&mut s as *mut Stream).cast(), &mut g), S::Ok);
        assert_eq!(g.stop_reason, DyagStopReason::Cancelled as i32);
        assert_eq!(s.pieces.len(), 2, "nothing is sent after the callback said stop");
        assert!(g.n_tokens < 12 && g.n_tokens >= 2);
        assert_eq!(std::slice::from_raw_parts(g.tokens, g.n_tokens), &want.tokens[..g.n_tokens]);
        dyag_generation_free(&mut g);

        // Raw text, no template, no end-of-answer rule.
        let ids = engine.base.tokenizer.encode_prompt("Kubi").unwrap();
        let free_text = SamplingParams { first_answer: false, ..SamplingParams::greedy(5) };
        let raw = engine.generate_tokens(&ids, &free_text, &mut |_| true).unwrap();
        expect(dyag_generate_text(model, c"Kubi".as_ptr(), &greedy(5), None, null_mut(), &mut g), S::Ok);
        assert_eq!(std::slice::from_raw_parts(g.tokens, g.n_tokens), &raw.tokens[..]);
        assert_eq!(g.prompt_tokens, ids.len());
        dyag_generation_free(&mut g);
    }
    expect(dyag_model_free(model), S::Ok);
}

struct Steps {
    losses: Vec<f64>,
    checkpoints: Vec<String>,
    cancel_at: usize,
}

unsafe extern "C" fn on_step(p: *const DyagTrainProgress, user: *mut c_void) -> bool {
    let (p, s) = (&*p, &mut *(user as *mut Steps));
    s.losses.push(p.loss);
    assert_eq!(p.step, s.losses.len());
    if !p.checkpoint.is_null() {
        s.checkpoints.push(CStr::from_ptr(p.checkpoint).to_str().unwrap().to_string());
    }
    p.step < s.cancel_at
}

/// Every example in each step (batch 4 = the dataset), a high learning rate:
/// step losses are comparable and fall fast.
fn fast_params() -> DyagTrainParams {
    DyagTrainParams {
        epochs: 6,
        batch_size: 4,
        lora_rank: 4,
        lora_alpha: 8.0,
        lora_dropout: 0.0,
        lr: 1e-2,
        warmup_ratio: 0.0,
        lr_scheduler: DyagLrScheduler::Constant as i32,
        max_seq_len: 128,
        ..dyag_train_default_params()
    }
}

#[test]
fn training_lowers_the_loss_and_the_adapter_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path());
    let model = open(&path);
    let base_answer = ask(model, 10).0;
    let ds = cpath(&data("train.jsonl"));
    let out = cpath(&dir.path().join("run"));
    let p = fast_params();
    let mut adapter = DyagAdapter::default();
    let mut summary = unsafe { std::mem::zeroed::<DyagTrainSummary>() };
    let mut steps = Steps { losses: Vec::new(), checkpoints: Vec::new(), cancel_at: usize::MAX };
    unsafe {
        expect(
            dyag_train(model, ds.as_ptr(), out.as_ptr(), &p, Some(on_step), (&mut steps as *mut Steps).cast(), &mut adapter, &mut summary),
            S::Ok,
        );
    }
    assert_ne!(adapter.id, 0);
    assert_eq!(steps.losses.len(), 6);
    assert_eq!(summary.global_steps, 6);
    assert_eq!(summary.num_examples, 4);
    assert_eq!((summary.first_step_loss, summary.last_step_loss), (steps.losses[0], steps.losses[5]));
    // From the uniform 5.77 (ln 320) to about 5.15 on this machine; every step below the first.
    assert!(summary.last_step_loss < 0.95 * summary.first_step_loss, "loss did not go down: {:?}", steps.losses);
    assert!(steps.losses[1..].iter().all(|&l| l < steps.losses[0]), "{:?}", steps.losses);
    assert!(summary.final_val_loss.is_nan());
    // A checkpoint at each epoch's end, under the output folder.
    assert_eq!(steps.checkpoints.len(), 6);
    assert!(steps.checkpoints[5].ends_with("checkpoint-6"), "{:?}", steps.checkpoints);

    // Attach the trained adapter: the answer changes; remove it: the base answers again.
    expect(dyag_model_set_adapter(model, adapter), S::Ok);
    let tuned = ask(model, 10).0;
    assert_ne!(tuned, base_answer);
    expect(dyag_model_remove_adapter(model), S::Ok);
    assert_eq!(ask(model, 10).0, base_answer);

    // Saved, then loaded from the folder, three ways: the same answer.
    let saved = dir.path().join("adapter");
    unsafe { expect(dyag_adapter_save(adapter, cpath(&saved).as_ptr()), S::Ok) };
    for f in ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json"] {
        assert!(saved.join(f).is_file(), "{f} missing");
    }
    unsafe { expect(dyag_model_load_adapter(model, cpath(&saved).as_ptr()), S::Ok) };
    assert_eq!(ask(model, 10).0, tuned);
    let mut other = DyagModel::default();
    unsafe { expect(dyag_model_open_finetuned(cpath(&saved).as_ptr(), cpath(&path).as_ptr(), null(), &mut other), S::Ok) };
    assert_eq!(ask(other, 10).0, tuned);
    // The folder names its base (an absolute path here), so the base can be left out.
    let mut third = DyagModel::default();
    unsafe { expect(dyag_model_open_finetuned(cpath(&saved).as_ptr(), null(), null(), &mut third), S::Ok) };
    assert_eq!(ask(third, 10).0, tuned);

    // An adapter trained on one handle cannot be set on another (load its folder instead).
    let e = expect(dyag_model_set_adapter(other, adapter), S::InvalidArgument);
    assert!(e.contains("dyag_model_load_adapter"), "{e}");

    // The adapter keeps its model alive after the model handle is freed.
    expect(dyag_model_free(model), S::Ok);
    let again = dir.path().join("adapter2");
    unsafe { expect(dyag_adapter_save(adapter, cpath(&again).as_ptr()), S::Ok) };
    assert_eq!(
        std::fs::read(again.join("adapter_model.safetensors")).unwrap(),
        std::fs::read(saved.join("adapter_model.safetensors")).unwrap()
    );
    expect(dyag_adapter_free(adapter), S::Ok);
    expect(dyag_adapter_free(adapter), S::InvalidHandle);
    expect(dyag_model_free(other), S::Ok);
    expect(dyag_model_free(third), S::Ok);
}

#[test]
fn a_progress_callback_cancels_training() {
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    let ds = cpath(&data("train.jsonl"));
    let out = cpath(&dir.path().join("run"));
    let mut steps = Steps { losses: Vec::new(), checkpoints: Vec::new(), cancel_at: 2 };
    let mut adapter = DyagAdapter { id: 77 };
    unsafe {
        let e = expect(
            dyag_train(
                model,
                ds.as_ptr(),
                out.as_ptr(),
                &fast_params(),
                Some(on_step),
                (&mut steps as *mut Steps).cast(),
                &mut adapter,
                null_mut(),
            ),
            S::Cancelled,
        );
        assert_eq!(e, "cancelled");
    }
    assert_eq!(steps.losses.len(), 2);
    assert_eq!(adapter, DyagAdapter::default());
    expect(dyag_model_free(model), S::Ok);
}

#[test]
fn threads_generate_with_one_model_while_another_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    let want = ask(model, 8).0;
    let workers: Vec<_> = (0..3).map(|_| std::thread::spawn(move || ask(model, 8).0)).collect();
    for w in workers {
        assert_eq!(w.join().unwrap(), want);
    }
    // Freed while a generation runs elsewhere: that one finishes, later calls fail cleanly.
    let running = std::thread::spawn(move || {
        let msgs = [DyagMessage { role: c"user".as_ptr(), content: QUESTION.as_ptr() }];
        unsafe { dyag_generate_chat(model, msgs.as_ptr(), 1, &greedy(30), None, null_mut(), null_mut()) }
    });
    let freed = dyag_model_free(model);
    let status = running.join().unwrap();
    assert_eq!(freed, S::Ok);
    assert!(status == S::Ok || status == S::InvalidHandle, "{status:?}");
    let msgs = [DyagMessage { role: c"user".as_ptr(), content: QUESTION.as_ptr() }];
    unsafe { expect(dyag_generate_chat(model, msgs.as_ptr(), 1, null(), None, null_mut(), null_mut()), S::InvalidHandle) };
}
