//! The C ABI under misuse: null pointers, null and stale handles, invalid
//! UTF-8, bad parameters, failing paths and data. Each returns its
//! documented status and a message saying what is wrong.

mod capi_support;

use capi_support::*;
use dyag::ffi::adapter::{dyag_adapter_free, dyag_adapter_save, dyag_model_set_adapter, DyagAdapter};
use dyag::ffi::error::DyagStatus as S;
use dyag::ffi::generate::*;
use dyag::ffi::model::*;
use dyag::ffi::train::*;
use std::ffi::CStr;
use std::ptr::{null, null_mut};

fn user_message(text: &CStr) -> DyagMessage {
    DyagMessage { role: c"user".as_ptr(), content: text.as_ptr() }
}

#[test]
fn version_is_the_crate_version() {
    let v = unsafe { CStr::from_ptr(dyag::ffi::dyag_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}

#[test]
fn null_pointers_are_refused() {
    let mut m = DyagModel { id: 99 };
    unsafe {
        assert_eq!(expect(dyag_model_open(null(), null(), &mut m), S::NullPointer), "model is NULL");
        assert_eq!(m, DyagModel::default(), "a failed open leaves the null handle");
        assert_eq!(expect(dyag_model_open(c"gemma3:270m".as_ptr(), null(), null_mut()), S::NullPointer), "out_model is NULL");
        assert_eq!(expect(dyag_model_open_finetuned(null(), null(), null(), &mut m), S::NullPointer), "adapter_dir is NULL");
    }
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    unsafe {
        let mut g = std::mem::zeroed::<DyagGeneration>();
        assert_eq!(expect(dyag_generate_chat(model, null(), 2, null(), None, null_mut(), &mut g), S::NullPointer), "messages is NULL");
        let bad = DyagMessage { role: c"user".as_ptr(), content: null() };
        assert_eq!(
            expect(dyag_generate_chat(model, &bad, 1, null(), None, null_mut(), &mut g), S::NullPointer),
            "messages[0].content is NULL"
        );
        assert_eq!(expect(dyag_generate_text(model, null(), null(), None, null_mut(), &mut g), S::NullPointer), "prompt is NULL");
        let mut a = DyagAdapter::default();
        assert_eq!(
            expect(dyag_train(model, null(), c"/tmp/x".as_ptr(), null(), None, null_mut(), &mut a, null_mut()), S::NullPointer),
            "dataset_path is NULL"
        );
        let ds = cpath(&data("train.jsonl"));
        assert_eq!(
            expect(dyag_train(model, ds.as_ptr(), c"/tmp/x".as_ptr(), null(), None, null_mut(), null_mut(), null_mut()), S::NullPointer),
            "out_adapter is NULL"
        );
        assert_eq!(expect(dyag_model_load_adapter(model, null()), S::NullPointer), "adapter_dir is NULL");
        assert_eq!(expect(dyag_model_describe(model, null_mut(), 8, null_mut()), S::NullPointer), "buf (with buf_len > 0) is NULL");
        // Freeing nothing is fine, as free(NULL) is.
        expect(dyag_generation_free(null_mut()), S::Ok);
        expect(dyag_model_free(DyagModel::default()), S::Ok);
        expect(dyag_adapter_free(DyagAdapter::default()), S::Ok);
    }
    expect(dyag_model_free(model), S::Ok);
}

#[test]
fn null_and_stale_handles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    expect(dyag_model_free(model), S::Ok);
    let q = c"Qui gère Kubi ?";
    let msg = [user_message(q)];
    unsafe {
        let mut g = std::mem::zeroed::<DyagGeneration>();
        let e = expect(dyag_generate_chat(model, msg.as_ptr(), 1, null(), None, null_mut(), &mut g), S::InvalidHandle);
        assert!(e.starts_with("stale model handle") && e.ends_with("it was freed"), "{e}");
        let e = expect(dyag_generate_chat(DyagModel::default(), msg.as_ptr(), 1, null(), None, null_mut(), &mut g), S::InvalidHandle);
        assert_eq!(e, "null model handle (0)");
        let e =
            expect(dyag_generate_chat(DyagModel { id: 0xdead_beef }, msg.as_ptr(), 1, null(), None, null_mut(), &mut g), S::InvalidHandle);
        assert_eq!(e, "model handle 0xdeadbeef was not returned by dyag");
        // An adapter id is not a model id.
        let e = expect(dyag_model_set_adapter(DyagModel { id: model.id }, DyagAdapter { id: model.id }), S::InvalidHandle);
        assert!(e.contains("stale model handle"), "{e}");
        expect(dyag_adapter_save(DyagAdapter { id: model.id }, c"/tmp/never".as_ptr()), S::InvalidHandle);
    }
    let e = expect(dyag_model_free(model), S::InvalidHandle);
    assert!(e.contains("stale model handle"), "double free: {e}");
    assert_eq!(expect(dyag_adapter_free(DyagAdapter { id: 12345 }), S::InvalidHandle), "adapter handle 0x3039 was not returned by dyag");
}

#[test]
fn invalid_utf8_is_refused() {
    let mut m = DyagModel::default();
    let bad = c"mod\xe8le.gguf";
    unsafe {
        assert_eq!(
            expect(dyag_model_open(bad.as_ptr(), null(), &mut m), S::InvalidUtf8),
            "model is not valid UTF-8 (invalid byte at offset 3)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    unsafe {
        let mut g = std::mem::zeroed::<DyagGeneration>();
        let msgs = [user_message(c"ok"), user_message(c"\xff\xfe")];
        assert_eq!(
            expect(dyag_generate_chat(model, msgs.as_ptr(), 2, null(), None, null_mut(), &mut g), S::InvalidUtf8),
            "messages[1].content is not valid UTF-8 (invalid byte at offset 0)"
        );
        let mut p = dyag_train_default_params();
        p.target_modules = c"q_proj,\xc3".as_ptr();
        let mut a = DyagAdapter::default();
        let ds = cpath(&data("train.jsonl"));
        let out = cpath(&dir.path().join("out"));
        let e = expect(dyag_train(model, ds.as_ptr(), out.as_ptr(), &p, None, null_mut(), &mut a, null_mut()), S::InvalidUtf8);
        assert!(e.starts_with("params.target_modules is not valid UTF-8"), "{e}");
        assert!(!dir.path().join("out").exists(), "nothing is written before the checks pass");
    }
    expect(dyag_model_free(model), S::Ok);
}

#[test]
fn failing_model_paths_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = DyagModel::default();
    unsafe {
        let e = expect(dyag_model_open(c"/nonexistent/dir/model.gguf".as_ptr(), null(), &mut m), S::ModelNotFound);
        assert!(e.contains("/nonexistent/dir/model.gguf"), "{e}");
        let e = expect(dyag_model_open(c"no-such-model".as_ptr(), null(), &mut m), S::ModelNotFound);
        assert!(e.contains("no-such-model") && e.contains("gemma3:270m"), "{e}");
        // A file that is not a GGUF file.
        let fake = dir.path().join("fake.gguf");
        std::fs::write(&fake, b"this is not a model").unwrap();
        let e = expect(dyag_model_open(cpath(&fake).as_ptr(), null(), &mut m), S::Format);
        assert!(e.contains("fake.gguf"), "{e}");
        // An adapter folder that does not exist.
        let e = expect(dyag_model_open_finetuned(c"/nonexistent/adapter".as_ptr(), null(), null(), &mut m), S::Io);
        assert!(e.contains("/nonexistent/adapter/adapter_config.json"), "{e}");
        assert_eq!(m, DyagModel::default());
        // Bad options.
        let mut o = dyag_model_default_options();
        o.device = 7;
        let e = expect(dyag_model_open(c"gemma3:270m".as_ptr(), &o, &mut m), S::InvalidArgument);
        assert!(e.contains("options.device: 7"), "{e}");
        o.device = DyagDevice::Cuda as i32;
        let e = expect(dyag_model_open(c"gemma3:270m".as_ptr(), &o, &mut m), S::Device);
        assert!(e.to_lowercase().contains("cuda"), "{e}");
    }
}

#[test]
fn bad_parameters_and_data_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let model = open(&tiny_model(dir.path()));
    let out = cpath(&dir.path().join("out"));
    let mut a = DyagAdapter::default();
    unsafe {
        let mut g = std::mem::zeroed::<DyagGeneration>();
        let q = [user_message(c"Qui gère Kubi ?")];
        let mut sp = dyag_sampling_default_params();
        sp.top_p = 0.0;
        assert_eq!(
            expect(dyag_generate_chat(model, q.as_ptr(), 1, &sp, None, null_mut(), &mut g), S::InvalidArgument),
            "params.top_p must be in (0, 1], got 0"
        );
        sp = dyag_sampling_default_params();
        sp.temperature = f32::NAN;
        expect(dyag_generate_chat(model, q.as_ptr(), 1, &sp, None, null_mut(), &mut g), S::InvalidArgument);
        assert_eq!(
            expect(dyag_generate_chat(model, q.as_ptr(), 0, &sp, None, null_mut(), &mut g), S::InvalidArgument),
            "no messages (n_messages is 0)"
        );

        let ds = cpath(&data("train.jsonl"));
        let mut p = dyag_train_default_params();
        p.epochs = 0;
        let e = expect(dyag_train(model, ds.as_ptr(), out.as_ptr(), &p, None, null_mut(), &mut a, null_mut()), S::InvalidArgument);
        assert!(e.contains("epochs"), "{e}");
        p = dyag_train_default_params();
        p.lr_scheduler = 9;
        expect(dyag_train(model, ds.as_ptr(), out.as_ptr(), &p, None, null_mut(), &mut a, null_mut()), S::InvalidArgument);
        p = dyag_train_default_params();
        p.target_modules = c"q_proj, wq".as_ptr();
        let e = expect(dyag_train(model, ds.as_ptr(), out.as_ptr(), &p, None, null_mut(), &mut a, null_mut()), S::InvalidArgument);
        assert!(e.contains("unknown target module 'wq'"), "{e}");

        let bad = data("bad_line.jsonl");
        let e = expect(dyag_train(model, cpath(&bad).as_ptr(), out.as_ptr(), null(), None, null_mut(), &mut a, null_mut()), S::Data);
        assert!(e.starts_with(&format!("{}:2:", bad.display())), "{e}");
        let e = expect(
            dyag_train(model, c"/nonexistent/train.jsonl".as_ptr(), out.as_ptr(), null(), None, null_mut(), &mut a, null_mut()),
            S::Io,
        );
        assert!(e.starts_with("/nonexistent/train.jsonl"), "{e}");
        assert_eq!(a, DyagAdapter::default());
        assert!(!dir.path().join("out").exists(), "nothing is written before the checks pass");

        // Output buffers: the needed size is reported, the text is cut on a character boundary.
        let mut needed = 0usize;
        expect(dyag_model_describe(model, null_mut(), 0, &mut needed), S::BufferTooSmall);
        let mut buf = vec![0 as std::ffi::c_char; needed + 1];
        expect(dyag_model_describe(model, buf.as_mut_ptr(), buf.len(), &mut needed), S::Ok);
        let full = CStr::from_ptr(buf.as_ptr()).to_str().unwrap().to_string();
        assert_eq!(full.len(), needed);
        assert!(full.ends_with("tiny-gemma3"), "{full}");
        let mut small = [0x55 as std::ffi::c_char; 4];
        expect(dyag_model_describe(model, small.as_mut_ptr(), small.len(), null_mut()), S::BufferTooSmall);
        assert_eq!(CStr::from_ptr(small.as_ptr()).to_bytes(), &full.as_bytes()[..3]);
    }
    expect(dyag_model_free(model), S::Ok);
}
