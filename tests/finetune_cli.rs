//! `dyag finetune` end to end on a tiny model: bad datasets stop before
//! anything is written; a run killed with SIGKILL resumes from its last
//! checkpoint to an adapter bit-identical to an uninterrupted run.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn dyag() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dyag"))
}

fn finetune_args(cmd: &mut Command, model: &Path, data: &Path, out: &Path) {
    cmd.args(["finetune", "--device", "cpu", "--threads", "2", "--base-model"])
        .arg(model)
        .arg("--dataset")
        .arg(data)
        .arg("--output")
        .arg(out);
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn bad_datasets_stop_with_file_and_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::tiny_model_dir(tmp.path());
    let good = r#"{"messages":[{"role":"user","content":"Q ?"},{"role":"assistant","content":"R."}]}"#;
    let cases: Vec<(&str, Vec<u8>, usize, &str)> = vec![
        ("invalid-json", format!("{good}\n{{\"messages\": [oops\n").into_bytes(), 2, "JSON"),
        (
            "unknown-role",
            format!("{good}\n{good}\n{}\n", r#"{"messages":[{"role":"robot","content":"Q"},{"role":"assistant","content":"R"}]}"#)
                .into_bytes(),
            3,
            "robot",
        ),
        ("empty", Vec::new(), 1, "empty"),
        ("no-assistant", format!("{}\n", r#"{"messages":[{"role":"user","content":"Q ?"}]}"#).into_bytes(), 1, "assistant"),
        (
            "not-utf8",
            [
                good.as_bytes(),
                b"\n{\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9\"},{\"role\":\"assistant\",\"content\":\"R\"}]}\n",
            ]
            .concat(),
            2,
            "UTF-8",
        ),
    ];
    for (name, bytes, line, word) in cases {
        let data = tmp.path().join(format!("{name}.jsonl"));
        std::fs::write(&data, bytes).unwrap();
        let out = tmp.path().join(format!("out-{name}"));
        let mut cmd = dyag();
        finetune_args(&mut cmd, &model, &data, &out);
        let o = cmd.output().unwrap();
        let err = stderr(&o);
        assert!(!o.status.success(), "{name}: should fail");
        let location = format!("{}:{line}:", data.display());
        assert!(err.contains(&location), "{name}: error should name {location}:\n{err}");
        assert!(err.to_lowercase().contains(&word.to_lowercase()), "{name}: error should mention {word}:\n{err}");
        assert!(!out.exists(), "{name}: nothing may be written to OUTPUT");
    }
}

fn checkpoints(out: &Path) -> Vec<usize> {
    let mut v: Vec<usize> = std::fs::read_dir(out)
        .map(|rd| rd.filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("checkpoint-")?.parse().ok()).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

#[test]
fn sigkill_then_resume_is_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::tiny_model_dir(tmp.path());
    let data = common::tiny_dataset(tmp.path(), 12);
    let common_args = [
        "--epochs",
        "40",
        "--batch-size",
        "2",
        "--gradient-accumulation",
        "2",
        "--lora-rank",
        "4",
        "--lr",
        "1e-3",
        "--lora-dropout",
        "0.1",
        "--save-steps",
        "3",
        "--seed",
        "7",
    ];

    // The uninterrupted run.
    let full = tmp.path().join("full");
    let mut cmd = dyag();
    finetune_args(&mut cmd, &model, &data, &full);
    let o = cmd.args(common_args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let want = std::fs::read(full.join("final/adapter_model.safetensors")).unwrap();

    // The same run, killed once a few checkpoints exist.
    let killed = tmp.path().join("killed");
    let mut cmd = dyag();
    finetune_args(&mut cmd, &model, &data, &killed);
    let mut child = cmd.args(common_args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let start = std::time::Instant::now();
    while checkpoints(&killed).len() < 3 {
        assert!(start.elapsed().as_secs() < 120, "no checkpoints appeared");
        if child.try_wait().unwrap().is_some() {
            panic!("the run finished before it could be killed: make it longer");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join("final").exists(), "killed before the end");
    let last = *checkpoints(&killed).last().unwrap();
    let ckpt = killed.join(format!("checkpoint-{last}"));
    for f in ["adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "trainer_state.json"] {
        assert!(ckpt.join(f).is_file(), "checkpoint-{last} lacks {f}");
    }

    // Resume from the last checkpoint ("latest" finds it).
    let mut cmd = dyag();
    finetune_args(&mut cmd, &model, &data, &killed);
    let o = cmd.args(common_args).args(["--resume-from-checkpoint", "latest"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("checkpoint-{last}")), "should say where it resumed from");
    let got = std::fs::read(killed.join("final/adapter_model.safetensors")).unwrap();
    assert!(got == want, "resumed adapter differs from the uninterrupted run");

    // Resuming with other options is refused.
    let mut cmd = dyag();
    finetune_args(&mut cmd, &model, &data, &killed);
    let other: Vec<&str> = common_args.iter().map(|a| if *a == "1e-3" { "5e-4" } else { a }).collect();
    let o = cmd.args(other).arg("--resume-from-checkpoint").arg(&ckpt).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("other options"), "{}", stderr(&o));
}

#[test]
fn validation_loss_and_metrics_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::tiny_model_dir(tmp.path());
    let data = common::tiny_dataset(tmp.path(), 6);
    let out = tmp.path().join("out");
    let mut cmd = dyag();
    finetune_args(&mut cmd, &model, &data, &out);
    let o = cmd.args(["--epochs", "2", "--batch-size", "2", "--val-dataset"]).arg(&data).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("final/training_summary.json")).unwrap()).unwrap();
    let m = &summary["metrics"];
    assert_eq!(m["val_losses"].as_array().unwrap().len(), 2);
    assert_eq!(m["global_steps"], 6);
    assert!(m["train_loss"].as_f64().unwrap() > 0.0);
    let acc = m["mean_token_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(out.join("checkpoint-3").is_dir() && out.join("checkpoint-6").is_dir(), "a checkpoint after each epoch");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("val_loss"), "{stdout}");
}

#[test]
fn in_loop_evaluation_scores_each_epoch_and_keeps_the_best() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::tiny_model_dir(tmp.path());
    let data = common::tiny_dataset(tmp.path(), 4);
    let questions = tmp.path().join("val_questions.jsonl");
    std::fs::write(
        &questions,
        "{\"question\": \"Qu'est-ce que APP1 ?\", \"keywords\": [\"gestion\"], \"kind\": \"direct\"}\n{\"question\": \"Et ZORG ?\", \"kind\": \"negative\"}\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut cmd = dyag();
    finetune_args(&mut cmd, &model, &data, &out);
    let o = cmd.args(["--epochs", "3", "--batch-size", "2", "--eval-questions"]).arg(&questions).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for epoch in 1..=3 {
        assert!(err.contains(&format!("[INFO] epoch {epoch}: ")), "{err}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("final/training_summary.json")).unwrap()).unwrap();
    let eval = &summary["eval"];
    let epochs = eval["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    // final/ holds the best epoch's adapter: byte-identical to that checkpoint's.
    let best = eval["best_epoch"].as_u64().unwrap() as usize;
    let best_dir = std::path::PathBuf::from(epochs[best - 1]["checkpoint"].as_str().unwrap());
    let score = |e: &serde_json::Value| (e["correct_rate"].as_f64().unwrap_or(0.0), e["mean_keyword_recall"].as_f64().unwrap_or(0.0));
    assert!(epochs.iter().all(|e| score(e) <= score(&epochs[best - 1])), "{eval}");
    let weights = |d: &Path| std::fs::read(d.join("adapter_model.safetensors")).unwrap();
    assert_eq!(weights(&out.join("final")), weights(&best_dir));
    // A bad questions file is refused before training.
    std::fs::write(&questions, "{\"q\": 1}\n").unwrap();
    let out2 = tmp.path().join("out2");
    let mut cmd = dyag();
    finetune_args(&mut cmd, &model, &data, &out2);
    let o = cmd.args(["--epochs", "1", "--eval-questions"]).arg(&questions).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("val_questions.jsonl:1: missing field \"question\""), "{}", stderr(&o));
    assert!(!out2.join("final").exists());
}
