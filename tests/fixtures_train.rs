//! The backward pass and the optimiser on the four tiny fixture models,
//! against PyTorch + PEFT references (tests/data/fixtures/*/reference.safetensors)
//! and against finite differences.
//!
//! Tolerances:
//! - losses: 1e-5 absolute (f32 vs f64 noise ≤ 9.5e-7 on a loss of ~5.7);
//! - gradients: 1e-4 relative to the tensor's largest |value| (observed
//!   f32-vs-f64 noise ≤ 1.4e-6 of it); the embedding-output gradient too;
//! - AdamW: parameters within 1e-6 wherever |g| ≥ 1% of the tensor's
//!   largest (one step moves them by ~lr = 1e-3). Adam's step ≈ lr·g/(|g|+ε)
//!   does not depend on the size of g, so for gradients near zero (k_proj
//!   under near-uniform attention has entries near ε = 1e-8) any noise can
//!   move the step by up to ±lr; there we only check |Δ| < 2·lr;
//!   moments like gradients (the second moment, a square, at twice the tolerance).

mod common;

use common::{fixture, read_safetensors, RefTensor};
use dyag::model::backward::{zero_grads, AdapterGrads};
use dyag::model::forward::RopeTables;
use dyag::model::load::load_hf_weights;
use dyag::model::lora::LoraAdapter;
use dyag::model::peft::{load_adapter_weights, peft_key, read_adapter_config};
use dyag::model::Model;
use dyag::ops::adamw::{clip_coefficient, global_norm, AdamW};
use dyag::train::backend::apply_update;
use dyag::train::checkpoint::Moments;
use dyag::train::step::{evaluate_loss, forward_backward, Batch, StepOptions};
use std::collections::HashMap;

const FAMILIES: [&str; 4] = ["llama", "qwen2", "gemma3", "phi3"];

struct Fixture {
    family: &'static str,
    model: Model,
    adapter: LoraAdapter,
    refs: HashMap<String, RefTensor>,
    batch: Batch,
}

fn load(family: &'static str) -> Fixture {
    let dir = fixture(family);
    let model = load_hf_weights(&dir.join("model")).unwrap();
    let adapter_dir = dir.join("peft_adapter");
    let adapter = load_adapter_weights(&adapter_dir, &read_adapter_config(&adapter_dir).unwrap(), &model).unwrap();
    let refs = read_safetensors(&dir.join("reference.safetensors"));
    let (ids, labels) = (&refs["input_ids"], &refs["labels"]);
    let cols = ids.shape[1];
    let mut batch = Batch::default();
    for r in 0..ids.shape[0] {
        let t: Vec<u32> = ids.values[r * cols..(r + 1) * cols].iter().map(|&v| v as u32).collect();
        let l: Vec<i32> = labels.values[r * cols..(r + 1) * cols].iter().map(|&v| v as i32).collect();
        batch.push(&t, &l);
    }
    Fixture { family, model, adapter, refs, batch }
}

fn grads_of(f: &Fixture, adapter: &LoraAdapter, embed: bool) -> (AdapterGrads, Option<Vec<f32>>, f64) {
    let rope = RopeTables::new(&f.model.config, f.batch.longest());
    let n = f.batch.num_targets();
    let opts = StepOptions { loss_scale: 1.0 / n as f32, dropout: None, gradient_checkpointing: false, want_embed_grad: embed };
    let mut g = zero_grads(adapter);
    let s = forward_backward(&f.model, adapter, &f.batch, &rope, &opts, &mut g).unwrap();
    (g, s.embed_grad, s.loss_sum / n as f64)
}

fn assert_rel(name: &str, got: &[f32], want: &RefTensor, tol: f64) {
    assert_eq!(got.len(), want.values.len(), "{name}: size");
    let scale = want.values.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-12);
    let worst = got.iter().zip(&want.values).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
    assert!(worst <= tol * scale, "{name}: max |Δ| {worst:e} > {tol:e} × {scale:e}");
}

#[test]
fn losses_match_references() {
    for family in FAMILIES {
        let f = load(family);
        let rope = RopeTables::new(&f.model.config, f.batch.longest());
        let n = f.batch.num_targets();
        assert_eq!(n, 24, "{family}: 14 + 10 labelled targets");
        let base = evaluate_loss(&f.model, None, &f.batch, &rope).unwrap();
        let lora = evaluate_loss(&f.model, Some(&f.adapter), &f.batch, &rope).unwrap();
        let (b, l) = (base.loss_sum / n as f64, lora.loss_sum / n as f64);
        assert!((b - f.refs["loss"].values[0]).abs() < 1e-5, "{family} base loss {b} vs {}", f.refs["loss"].values[0]);
        assert!((l - f.refs["lora_loss"].values[0]).abs() < 1e-5, "{family} lora loss {l} vs {}", f.refs["lora_loss"].values[0]);
    }
}

#[test]
fn lora_and_embedding_gradients_match_references() {
    for family in FAMILIES {
        let f = load(family);
        let (g, embed, loss) = grads_of(&f, &f.adapter, true);
        assert!((loss - f.refs["lora_loss"].values[0]).abs() < 1e-5, "{family}: loss");
        for (layer, proj, _) in f.adapter.iter() {
            let lg = &g[layer][&proj];
            assert_rel(
                &format!("{family} {}", peft_key(layer, proj, true)),
                &lg.a,
                &f.refs[&format!("grad.{}", peft_key(layer, proj, true))],
                1e-4,
            );
            assert_rel(
                &format!("{family} {}", peft_key(layer, proj, false)),
                &lg.b,
                &f.refs[&format!("grad.{}", peft_key(layer, proj, false))],
                1e-4,
            );
        }
        assert_rel(&format!("{family} embed_grad"), &embed.unwrap(), &f.refs["embed_grad"], 1e-4);
        let norm = global_norm(g.iter().flat_map(|l| l.values()).flat_map(|x| [&x.a[..], &x.b[..]]));
        let want = f.refs["grad_norm"].values[0];
        assert!((norm as f64 - want).abs() < 1e-5 * want, "{family}: grad norm {norm} vs {want}");
    }
}

#[test]
fn two_clipped_adamw_steps_match_references() {
    for family in FAMILIES {
        let f = load(family);
        let opt = AdamW::default();
        let mut adapter = f.adapter.clone();
        let mut moments = Moments::zeros(&adapter);
        for step in 1..=2u64 {
            let (g, _, _) = grads_of(&f, &adapter, false);
            let norm = global_norm(g.iter().flat_map(|l| l.values()).flat_map(|x| [&x.a[..], &x.b[..]]));
            if step == 2 {
                let want = f.refs["grad_norm_step2"].values[0];
                assert!((norm as f64 - want).abs() < 1e-4 * want, "{family}: step-2 grad norm {norm} vs {want}");
            }
            apply_update(&opt, step, 1e-3, clip_coefficient(norm, 1.0), &mut adapter, &g, &mut moments);
            let prefix = if step == 1 { "adamw" } else { "adamw_step2" };
            let mut i = 0;
            for (layer, proj, w) in adapter.iter() {
                for (a, values) in [(true, &w.a), (false, &w.b)] {
                    let key = peft_key(layer, proj, a);
                    let want = &f.refs[&format!("{prefix}.{key}")];
                    let d = common::max_abs_diff(values, &want.values);
                    assert!(d < 2e-3, "{family} {prefix}.{key}: max |Δ| {d:e}");
                    // Where |g| ≥ 1% of the tensor's largest, the gradient's own error is ≤ 1e-4 of it,
                    // so Adam's step (≈ lr·g/|g|) is off by ≤ ~lr·1e-4 = 1e-7: check those tightly.
                    let g_ref = &f.refs[&format!("grad.{key}")].values;
                    let g_max = g_ref.iter().fold(0f64, |m, v| m.max(v.abs()));
                    for (j, ((a, b), g)) in values.iter().zip(&want.values).zip(g_ref).enumerate() {
                        if g.abs() >= 1e-2 * g_max {
                            assert!((*a as f64 - b).abs() < 1e-6, "{family} {prefix}.{key}[{j}]: {a} vs {b} (|g| = {g:e})");
                        }
                    }
                    if step == 1 {
                        assert_rel(&format!("{family} exp_avg {key}"), &moments.m[i], &f.refs[&format!("adamw.exp_avg.{key}")], 1e-4);
                        assert_rel(&format!("{family} exp_avg_sq {key}"), &moments.v[i], &f.refs[&format!("adamw.exp_avg_sq.{key}")], 2e-4);
                    }
                    i += 1;
                }
            }
        }
    }
}

/// Central differences of the loss, computed by the engine itself in f32,
/// for the 3 largest-gradient entries of a few LoRA matrices. With h = 1e-2
/// the f32 rounding of the loss (~5e-7) contributes < 5e-5 and the
/// truncation error (h²·f‴/6) stays well below 1e-4 here; we allow 2e-3
/// absolute on gradients of size ~1e-2..1e-1, enough to catch any wrong term.
#[test]
fn gradients_agree_with_finite_differences() {
    for family in FAMILIES {
        let f = load(family);
        let rope = RopeTables::new(&f.model.config, f.batch.longest());
        let n = f.batch.num_targets() as f64;
        let (g, _, _) = grads_of(&f, &f.adapter, false);
        let loss = |a: &LoraAdapter| evaluate_loss(&f.model, Some(a), &f.batch, &rope).unwrap().loss_sum / n;
        let picks: Vec<_> = f.adapter.iter().map(|(l, p, _)| (l, p)).step_by(3).collect();
        for (layer, proj) in picks {
            for which_a in [true, false] {
                let grad = if which_a { &g[layer][&proj].a } else { &g[layer][&proj].b };
                let mut idx: Vec<usize> = (0..grad.len()).collect();
                idx.sort_by(|&x, &y| grad[y].abs().total_cmp(&grad[x].abs()));
                for &i in &idx[..3] {
                    let h = 1e-2f32;
                    let mut plus = f.adapter.clone();
                    let mut minus = f.adapter.clone();
                    let (wp, wm) = (plus.layers[layer].get_mut(&proj).unwrap(), minus.layers[layer].get_mut(&proj).unwrap());
                    if which_a {
                        wp.a[i] += h;
                        wm.a[i] -= h;
                    } else {
                        wp.b[i] += h;
                        wm.b[i] -= h;
                    }
                    let fd = (loss(&plus) - loss(&minus)) / (2.0 * h as f64);
                    assert!(
                        (fd - grad[i] as f64).abs() < 2e-3,
                        "{} layer {layer} {proj:?} {} [{i}]: backward {} vs finite difference {fd}",
                        f.family,
                        if which_a { "A" } else { "B" },
                        grad[i]
                    );
                }
            }
        }
    }
}

#[test]
fn gradient_checkpointing_and_accumulation_do_not_change_gradients() {
    let f = load("gemma3");
    let rope = RopeTables::new(&f.model.config, f.batch.longest());
    let n = f.batch.num_targets();
    let run = |ckpt: bool| {
        let mut g = zero_grads(&f.adapter);
        let opts = StepOptions { loss_scale: 1.0 / n as f32, dropout: None, gradient_checkpointing: ckpt, want_embed_grad: false };
        forward_backward(&f.model, &f.adapter, &f.batch, &rope, &opts, &mut g).unwrap();
        g
    };
    let (plain, ckpt) = (run(false), run(true));
    // Two micro-batches of one sequence each, normalised by the step's total.
    let mut accum = zero_grads(&f.adapter);
    for s in &f.batch.spans {
        let mut b = Batch::default();
        b.push(&f.batch.tokens[s.start..s.start + s.len], &f.batch.labels[s.start..s.start + s.len]);
        let opts = StepOptions { loss_scale: 1.0 / n as f32, dropout: None, gradient_checkpointing: false, want_embed_grad: false };
        forward_backward(&f.model, &f.adapter, &b, &rope, &opts, &mut accum).unwrap();
    }
    for (layer, m) in plain.iter().enumerate() {
        for (proj, g) in m {
            assert_eq!(g.a, ckpt[layer][proj].a, "checkpointing changed dA");
            for (x, y) in g.a.iter().zip(&accum[layer][proj].a) {
                assert!((x - y).abs() <= 1e-6 * (1.0 + x.abs()), "accumulation changed dA: {x} vs {y}");
            }
        }
    }
}
