//! Names that need the Hugging Face Hub, resolved offline: the local cache is
//! empty and the endpoint refuses connections (a loopback port nobody
//! listens on), so resolution must fail with a message saying how to pass a
//! local path instead. No traffic leaves the machine.

use std::process::Command;

#[test]
fn offline_hub_names_explain_how_to_use_a_local_path() {
    let home = tempfile::tempdir().unwrap();
    for name in ["tinyllama", "qwen2.5:1.5b", "phi3"] {
        let o = Command::new(env!("CARGO_BIN_EXE_dyag"))
            .env("HF_HOME", home.path())
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .env_remove("HF_HUB_OFFLINE")
            .args(["query-finetuned", "Bonjour ?", "--device", "cpu", "--base-model", name])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name}: should fail offline");
        assert!(err.contains(name) && err.contains("--base-model /path/to/"), "{name}: {err}");
    }
    // With HF_HUB_OFFLINE set, no connection is even attempted.
    let o = Command::new(env!("CARGO_BIN_EXE_dyag"))
        .env("HF_HOME", home.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(["query-finetuned", "Bonjour ?", "--device", "cpu", "--base-model", "llama3.2:1b"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("HF_HUB_OFFLINE") && err.contains("meta-llama/Llama-3.2-1B-Instruct"), "{err}");
}
