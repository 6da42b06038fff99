//! `--device` on a machine without a usable GPU (any build, with or without
//! the `cuda` feature): `--device cuda` fails at once with the reason, before
//! any model is loaded; `--device auto` warns as the original tool did and
//! goes on with the CPU. On a machine with a usable GPU these checks are
//! skipped (they describe the GPU-less behaviour).

mod common;

use std::process::Command;

fn gpu_usable() -> bool {
    #[cfg(feature = "cuda")]
    {
        dyag::cuda::probe().is_ok()
    }
    #[cfg(not(feature = "cuda"))]
    {
        false
    }
}

fn dyag(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dyag")).args(args).output().expect("run dyag");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn device_cuda_without_gpu_fails_with_the_reason() {
    if gpu_usable() {
        eprintln!("SKIPPED: a CUDA device is usable here");
        return;
    }
    for args in [
        &["query-finetuned", "--device", "cuda", "--base-model", "/nonexistent/model.gguf", "Bonjour"][..],
        &[
            "finetune",
            "--device",
            "cuda",
            "--dataset",
            "/nonexistent.jsonl",
            "--output",
            "/nonexistent-out",
            "--base-model",
            "/nonexistent/model.gguf",
        ][..],
    ] {
        let (code, err) = dyag(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        let line = err.lines().find(|l| l.contains("--device cuda:")).unwrap_or_else(|| panic!("{args:?}: no reason given:\n{err}"));
        assert!(line.starts_with("[ERREUR]") && line.len() > "[ERREUR] device: --device cuda: ".len() + 10, "{line}");
        // It failed on the device, before touching the (nonexistent) model.
        assert!(!err.contains("nonexistent"), "{args:?} looked at the model first:\n{err}");
    }
}

#[test]
fn device_auto_without_gpu_warns_and_uses_the_cpu() {
    if gpu_usable() {
        eprintln!("SKIPPED: a CUDA device is usable here");
        return;
    }
    let model = common::gemma_gguf();
    let (code, err) = dyag(&[
        "finetune",
        "--device",
        "auto",
        "--dataset",
        "/nonexistent.jsonl",
        "--output",
        "/tmp/dyag-never-written",
        "--base-model",
        model.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("[AVERTISSEMENT] Pas de GPU détecté - utilisation du CPU"), "{err}");
    // It went on (on the CPU) to the dataset, which does not exist.
    assert!(err.contains("/nonexistent.jsonl"), "{err}");
}
