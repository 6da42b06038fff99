//! Helpers for the C ABI tests: the tiny model folder, calling conventions.
#![allow(dead_code)]

use dyag::ffi::error::{dyag_last_error, DyagStatus};
use dyag::ffi::model::{dyag_model_default_options, dyag_model_open, DyagModel};
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

/// The tiny PyTorch-made fixtures vendored in tests/data/fixtures.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures")
}

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/capi").join(name)
}

/// A Hugging Face folder for the tiny random Gemma 3 fixture (2 layers,
/// hidden 64, 256 positions) with the 320-token fixture tokenizer: fast
/// enough to generate and train in a test.
pub fn tiny_model(dir: &Path) -> PathBuf {
    let model = dir.join("tiny-gemma3");
    std::fs::create_dir_all(&model).unwrap();
    let fixture = fixtures().join("gemma3/model");
    for f in ["config.json", "model.safetensors", "generation_config.json"] {
        std::fs::copy(fixture.join(f), model.join(f)).unwrap();
    }
    std::fs::copy(fixtures().join("tokenizer/tokenizer.json"), model.join("tokenizer.json")).unwrap();
    model
}

pub fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

pub fn cpath(p: &Path) -> CString {
    c(p.to_str().unwrap())
}

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(dyag_last_error()) }.to_str().unwrap().to_string()
}

/// Asserts a call's status and returns the message it left.
#[track_caller]
pub fn expect(status: DyagStatus, want: DyagStatus) -> String {
    let msg = last_error();
    assert_eq!(status, want, "message: {msg}");
    msg
}

/// Opens a model on one thread of its own (the tests run side by side).
pub fn open(spec: &Path) -> DyagModel {
    let mut m = DyagModel::default();
    let mut o = dyag_model_default_options();
    o.threads = 1;
    let s = unsafe { dyag_model_open(cpath(spec).as_ptr(), &o, &mut m) };
    expect(s, DyagStatus::Ok);
    assert_ne!(m.id, 0);
    m
}
