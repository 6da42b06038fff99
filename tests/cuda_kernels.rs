//! Each CUDA kernel against the CPU implementation of the same op.
//!
//! Without a CUDA device every test prints "SKIPPED" and passes, unless
//! DYAG_REQUIRE_CUDA=1 (set it on GPU machines) turns a missing device into a
//! failure. Tolerances, and why:
//! - dequant-matmul: the CPU reference multiplies the same bf16-rounded
//!   operands in f64, so only f32 summation order differs: |Δ| ≤ 1e-5·Σ|x||w|;
//!   the NF4 dequantisation itself is compared bit for bit;
//! - RoPE and AdamW are rounded step by step as on the CPU: bit for bit;
//! - everything else is f32 on both sides with another summation order or
//!   exp/tanh implementation: 2e-5 relative to the largest |value| (attention
//!   and LoRA: 1e-4, longer reductions).

use dyag::cuda::device::{Gpu, Mat};
use dyag::cuda::elementwise::{embed_gpu, gather_rows_gpu, scatter_rows_gpu};
use dyag::cuda::weights::HostWeight;
use dyag::model::config::{Activation, Rope};
use dyag::ops::activation::{glu_backward, glu_forward};
use dyag::ops::activation_cuda::{glu_backward_gpu, glu_forward_gpu};
use dyag::ops::adamw::{global_norm, AdamW};
use dyag::ops::adamw_cuda::{adamw_step_gpu, global_norm_gpu};
use dyag::ops::attention::{attention_backward, attention_forward, AttnShape};
use dyag::ops::attention_cuda::{attention_backward_gpu, attention_forward_gpu, GpuSeqs, KvLayout};
use dyag::ops::linear_cuda::{dequantize_nf4_gpu, linear_backward_input_gpu, linear_forward_gpu};
use dyag::ops::lora::{lora_backward, lora_forward, Dropout, LoraGrads, LoraWeights};
use dyag::ops::lora_cuda::{lora_backward_gpu, lora_forward_gpu, LoraDev};
use dyag::ops::loss::fused_linear_cross_entropy;
use dyag::ops::loss_cuda::fused_linear_cross_entropy_gpu;
use dyag::ops::norm::{rmsnorm_backward, rmsnorm_forward};
use dyag::ops::norm_cuda::{rmsnorm_backward_gpu, rmsnorm_forward_gpu};
use dyag::ops::rope::RopeTable;
use dyag::ops::rope_cuda::GpuRope;
use dyag::quant::nf4::Nf4Tensor;
use dyag::quant::tensor::QTensor;
use dyag::quant::Quantization;
use dyag::util::rng::Rng;
use std::sync::Arc;

fn gpu() -> Option<Arc<Gpu>> {
    match Gpu::global() {
        Ok(g) => {
            eprintln!("GPU: {}", g.describe());
            Some(g)
        }
        Err(why) => {
            if std::env::var_os("DYAG_REQUIRE_CUDA").is_some_and(|v| v == "1") {
                panic!("DYAG_REQUIRE_CUDA=1 but no CUDA device can be used: {why}");
            }
            eprintln!("SKIPPED (no CUDA device): {why}");
            None
        }
    }
}

fn rand(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| (rng.next_f32() * 2.0 - 1.0) * scale).collect()
}

fn bf16r(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| half::bf16::from_f32(x).to_f32()).collect()
}

/// max |a − b| ≤ tol · max |b| (with a floor of 1e-30 on the scale).
fn assert_close(name: &str, got: &[f32], want: &[f32], tol: f64) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-30);
    let (mut worst, mut at) = (0f64, 0);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let d = (*a as f64 - *b as f64).abs();
        if d > worst || d.is_nan() {
            worst = d;
            at = i;
        }
    }
    assert!(worst <= tol * scale, "{name}: max |Δ| {worst:e} at {at} ({} vs {}) > {tol:e} × {scale:e}", got[at], want[at]);
}

fn dl(g: &Gpu, b: &cudarc::driver::CudaSlice<f32>, n: usize) -> Vec<f32> {
    g.download_n(b, n).unwrap()
}

/// Y = X·Wᵀ (+ bias, accumulate) and dX = dY·W for NF4 (single and double
/// scales) and bf16 weights, with shapes that leave partial tiles everywhere.
#[test]
fn dequant_matmul_forward_and_input_gradient() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(1);
    let (m, n, k) = (77, 200, 192);
    let wv = rand(&mut rng, n * k, 0.5);
    let wt = QTensor::from_f32("w", vec![n, k], &wv).unwrap();
    let x = rand(&mut rng, m * k, 1.0);
    let dy = rand(&mut rng, m * n, 1.0);
    let bias = rand(&mut rng, n, 0.1);
    let y0 = rand(&mut rng, m * n, 1.0);
    for (label, host) in [
        ("nf4", HostWeight::Nf4(Nf4Tensor::from_qtensor(&wt, false).unwrap())),
        ("nf4+dq", HostWeight::prepare(&wt, Quantization::Nf4).unwrap()),
        ("bf16", HostWeight::prepare(&wt, Quantization::Bf16).unwrap()),
    ] {
        let wref = host.reference().unwrap().to_f32().unwrap(); // the exact values the GPU multiplies
        let w = host.upload(&g).unwrap();
        let (xr, dyr) = (bf16r(&x), bf16r(&dy));
        // CPU reference in f64 from the bf16-rounded operands, with Σ|x||w| for the tolerance.
        let mut want_y = vec![0f32; m * n];
        let mut mag_y = vec![0f64; m * n];
        for i in 0..m {
            for o in 0..n {
                let (mut s, mut a) = (0f64, 0f64);
                for c in 0..k {
                    let p = xr[i * k + c] as f64 * wref[o * k + c] as f64;
                    s += p;
                    a += p.abs();
                }
                want_y[i * n + o] = (s + y0[i * n + o] as f64 + bias[o] as f64) as f32;
                mag_y[i * n + o] = a;
            }
        }
        let xd = g.upload(&x).unwrap();
        let yd = g.upload(&y0).unwrap();
        let bd = g.upload(&bias).unwrap();
        linear_forward_gpu(&g, Mat::new(&xd, m, k).unwrap(), &w, Some(&bd), Mat::new(&yd, m, n).unwrap(), true).unwrap();
        let got = dl(&g, &yd, m * n);
        for i in 0..m * n {
            let tol = 1e-5 * mag_y[i] + 1e-6;
            assert!((got[i] - want_y[i]).abs() as f64 <= tol, "{label} y[{i}]: {} vs {} (tol {tol:e})", got[i], want_y[i]);
        }
        // dX = dY·W
        let mut want_dx = vec![0f32; m * k];
        let mut mag_dx = vec![0f64; m * k];
        for i in 0..m {
            for c in 0..k {
                let (mut s, mut a) = (0f64, 0f64);
                for o in 0..n {
                    let p = dyr[i * n + o] as f64 * wref[o * k + c] as f64;
                    s += p;
                    a += p.abs();
                }
                want_dx[i * k + c] = s as f32;
                mag_dx[i * k + c] = a;
            }
        }
        let dyd = g.upload(&dy).unwrap();
        let dxd = g.zeros::<f32>(m * k).unwrap();
        linear_backward_input_gpu(&g, Mat::new(&dyd, m, n).unwrap(), &w, Mat::new(&dxd, m, k).unwrap(), false).unwrap();
        let got = dl(&g, &dxd, m * k);
        for i in 0..m * k {
            let tol = 1e-5 * mag_dx[i] + 1e-6;
            assert!((got[i] - want_dx[i]).abs() as f64 <= tol, "{label} dx[{i}]: {} vs {}", got[i], want_dx[i]);
        }
        // NF4 dequantisation on the GPU is bit-identical to the CPU's.
        if w.is_nf4() {
            let out = g.zeros::<u16>(n * k).unwrap();
            dequantize_nf4_gpu(&g, &w, &out).unwrap();
            let bits = g.download(&out).unwrap();
            for (i, (b, r)) in bits.iter().zip(&wref).enumerate() {
                assert_eq!(half::bf16::from_bits(*b).to_f32().to_bits(), r.to_bits(), "{label} dequant[{i}]");
            }
        }
    }
}

#[test]
fn lora_forward_and_backward_match_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(2);
    let (m, inp, out, r) = (37, 96, 80, 8);
    for dropout in [None, Some(Dropout { p: 0.2, key: 1234 })] {
        let w = LoraWeights {
            r,
            in_features: inp,
            out_features: out,
            a: rand(&mut rng, r * inp, 0.3),
            b: rand(&mut rng, out * r, 0.3),
            scale: 2.0,
        };
        let x = rand(&mut rng, m * inp, 1.0);
        let dy = rand(&mut rng, m * out, 1.0);
        let y0 = rand(&mut rng, m * out, 1.0);
        // CPU
        let (mut h, mut y) = (vec![0f32; m * r], y0.clone());
        lora_forward(&w, &x, m, dropout, &mut h, &mut y);
        let mut gr = LoraGrads::zeros_like(&w);
        let mut dx = vec![0.5f32; m * inp];
        lora_backward(&w, &x, m, dropout, &h, &dy, &mut gr, &mut dx);
        // GPU
        let (ad, bd) = (g.upload(&w.a).unwrap(), g.upload(&w.b).unwrap());
        let dev = LoraDev { r, in_features: inp, out_features: out, a: &ad, b: &bd, scale: w.scale };
        let (xd, yd, hd) = (g.upload(&x).unwrap(), g.upload(&y0).unwrap(), g.zeros::<f32>(m * r).unwrap());
        lora_forward_gpu(&g, &dev, Mat::new(&xd, m, inp).unwrap(), dropout, &hd, Mat::new(&yd, m, out).unwrap()).unwrap();
        assert_close("lora h", &dl(&g, &hd, m * r), &h, 1e-5);
        assert_close("lora y", &dl(&g, &yd, m * out), &y, 1e-5);
        let (dyd, dxd) = (g.upload(&dy).unwrap(), g.upload(&vec![0.5f32; m * inp]).unwrap());
        let (ga, gb, dh) = (g.zeros::<f32>(r * inp).unwrap(), g.zeros::<f32>(out * r).unwrap(), g.zeros::<f32>(m * r).unwrap());
        lora_backward_gpu(
            &g,
            &dev,
            Mat::new(&xd, m, inp).unwrap(),
            dropout,
            &hd,
            Mat::new(&dyd, m, out).unwrap(),
            &ga,
            &gb,
            Mat::new(&dxd, m, inp).unwrap(),
            &dh,
        )
        .unwrap();
        assert_close("lora dA", &dl(&g, &ga, r * inp), &gr.a, 1e-4);
        assert_close("lora dB", &dl(&g, &gb, out * r), &gr.b, 1e-4);
        assert_close("lora dx", &dl(&g, &dxd, m * inp), &dx, 1e-4);
    }
}

#[test]
fn rmsnorm_rope_glu_match_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(3);
    let (rows, d) = (45, 160);
    let x = rand(&mut rng, rows * d, 2.0);
    let w = rand(&mut rng, d, 1.0);
    let dy = rand(&mut rng, rows * d, 1.0);
    let (mut y, mut rstd) = (vec![0f32; rows * d], vec![0f32; rows]);
    rmsnorm_forward(&x, &w, 1e-6, &mut y, Some(&mut rstd));
    let mut dx = vec![0f32; rows * d];
    rmsnorm_backward(&x, &w, &rstd, &dy, &mut dx, false);
    let (xd, wd, yd, rd) = (g.upload(&x).unwrap(), g.upload(&w).unwrap(), g.zeros::<f32>(rows * d).unwrap(), g.zeros::<f32>(rows).unwrap());
    rmsnorm_forward_gpu(&g, Mat::new(&xd, rows, d).unwrap(), &wd, 1e-6, Mat::new(&yd, rows, d).unwrap(), Some(&rd), false).unwrap();
    assert_close("rmsnorm y", &dl(&g, &yd, rows * d), &y, 2e-5);
    assert_close("rmsnorm rstd", &dl(&g, &rd, rows), &rstd, 2e-5);
    let (dyd, dxd) = (g.upload(&dy).unwrap(), g.zeros::<f32>(rows * d).unwrap());
    rmsnorm_backward_gpu(
        &g,
        Mat::new(&xd, rows, d).unwrap(),
        &wd,
        &rd,
        Mat::new(&dyd, rows, d).unwrap(),
        Mat::new(&dxd, rows, d).unwrap(),
        false,
    )
    .unwrap();
    assert_close("rmsnorm dx", &dl(&g, &dxd, rows * d), &dx, 2e-5);
    // add mode: x += norm(y)
    let base = rand(&mut rng, rows * d, 1.0);
    let bd = g.upload(&base).unwrap();
    rmsnorm_forward_gpu(&g, Mat::new(&xd, rows, d).unwrap(), &wd, 1e-6, Mat::new(&bd, rows, d).unwrap(), None, true).unwrap();
    let want: Vec<f32> = base.iter().zip(&y).map(|(a, b)| a + b).collect();
    assert_close("rmsnorm add", &dl(&g, &bd, rows * d), &want, 2e-5);

    // RoPE: bit for bit, both directions, arbitrary positions.
    let (heads, hd) = (3, 64);
    let table = RopeTable::new(&Rope { theta: 10000.0, scaling: None }, hd, 50);
    let pos: Vec<usize> = (0..rows).map(|i| (i * 7) % 50).collect();
    let q = rand(&mut rng, rows * heads * hd, 1.0);
    let mut want = q.clone();
    table.forward(&mut want, heads, &pos);
    let gr = GpuRope::new(&g, &table).unwrap();
    let qd = g.upload(&q).unwrap();
    let pd = g.upload(&pos.iter().map(|&p| p as u32).collect::<Vec<_>>()).unwrap();
    gr.rotate(&g, Mat::new(&qd, rows, heads * hd).unwrap(), heads, &pd, false).unwrap();
    let got = dl(&g, &qd, q.len());
    assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "rope forward differs from the CPU");
    table.backward(&mut want, heads, &pos);
    gr.rotate(&g, Mat::new(&qd, rows, heads * hd).unwrap(), heads, &pd, true).unwrap();
    let got = dl(&g, &qd, q.len());
    assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "rope backward differs from the CPU");

    // GLU, both activations.
    let n = 5000;
    let (gate, up, dout) = (rand(&mut rng, n, 4.0), rand(&mut rng, n, 1.0), rand(&mut rng, n, 1.0));
    for act in [Activation::Silu, Activation::GeluTanh] {
        let mut out = vec![0f32; n];
        glu_forward(act, &gate, &up, &mut out);
        let (mut dg, mut du) = (vec![0f32; n], vec![0f32; n]);
        glu_backward(act, &gate, &up, &dout, &mut dg, &mut du);
        let (gd, ud, od, dod, dgd, dud) = (
            g.upload(&gate).unwrap(),
            g.upload(&up).unwrap(),
            g.zeros::<f32>(n).unwrap(),
            g.upload(&dout).unwrap(),
            g.zeros::<f32>(n).unwrap(),
            g.zeros::<f32>(n).unwrap(),
        );
        glu_forward_gpu(&g, act, &gd, &ud, &od, n).unwrap();
        glu_backward_gpu(&g, act, &gd, &ud, &dod, &dgd, &dud, n).unwrap();
        assert_close(&format!("{act:?} out"), &dl(&g, &od, n), &out, 2e-5);
        assert_close(&format!("{act:?} dgate"), &dl(&g, &dgd, n), &dg, 2e-5);
        assert_close(&format!("{act:?} dup"), &dl(&g, &dud, n), &du, 2e-5);
    }
}

/// Packed sequences of several lengths, GQA, with and without a sliding
/// window, head dims 16 (partial warp), 64 and 256 (gemma3).
#[test]
fn attention_forward_and_backward_match_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(4);
    let lens = [37usize, 5, 70];
    let t: usize = lens.iter().sum();
    for &(hd, window) in &[(16usize, None), (64, Some(16usize)), (256, None), (256, Some(9))] {
        let s = AttnShape { n_heads: 4, n_kv_heads: 2, head_dim: hd, scale: 1.0 / (hd as f32).sqrt(), window };
        let (qd, kvd) = (4 * hd, 2 * hd);
        let q = rand(&mut rng, t * qd, 1.0);
        let k = rand(&mut rng, t * kvd, 1.0);
        let v = rand(&mut rng, t * kvd, 1.0);
        let dout = rand(&mut rng, t * qd, 1.0);
        // CPU, per sequence, with head-major K/V as model::forward builds them.
        let (mut out, mut dq, mut dk, mut dv) = (vec![0f32; t * qd], vec![0f32; t * qd], vec![0f32; t * kvd], vec![0f32; t * kvd]);
        let mut start = 0;
        for &l in &lens {
            let heads = |src: &[f32]| -> Vec<f32> {
                let mut hm = vec![0f32; l * kvd];
                for i in 0..l {
                    for h in 0..2 {
                        hm[(h * l + i) * hd..(h * l + i + 1) * hd]
                            .copy_from_slice(&src[(start + i) * kvd + h * hd..(start + i) * kvd + (h + 1) * hd]);
                    }
                }
                hm
            };
            let (kh, vh) = (heads(&k), heads(&v));
            let mut p = vec![0f32; 4 * l * l];
            attention_forward(
                &s,
                &q[start * qd..(start + l) * qd],
                &kh,
                &vh,
                l,
                0,
                l,
                &mut out[start * qd..(start + l) * qd],
                Some(&mut p),
            );
            let (mut dkh, mut dvh) = (vec![0f32; l * kvd], vec![0f32; l * kvd]);
            attention_backward(
                &s,
                &q[start * qd..(start + l) * qd],
                &kh,
                &vh,
                l,
                l,
                &p,
                &dout[start * qd..(start + l) * qd],
                &mut dq[start * qd..(start + l) * qd],
                &mut dkh,
                &mut dvh,
            );
            for i in 0..l {
                for h in 0..2 {
                    dk[(start + i) * kvd + h * hd..(start + i) * kvd + (h + 1) * hd]
                        .copy_from_slice(&dkh[(h * l + i) * hd..(h * l + i + 1) * hd]);
                    dv[(start + i) * kvd + h * hd..(start + i) * kvd + (h + 1) * hd]
                        .copy_from_slice(&dvh[(h * l + i) * hd..(h * l + i + 1) * hd]);
                }
            }
            start += l;
        }
        let spans: Vec<_> = {
            let mut s0 = 0;
            lens.iter()
                .map(|&l| {
                    let sp = dyag::model::forward::SeqSpan { start: s0, len: l, pos0: 0 };
                    s0 += l;
                    sp
                })
                .collect()
        };
        let seqs = GpuSeqs::packed(&g, &spans).unwrap();
        let (qdv, kdv, vdv) = (g.upload(&q).unwrap(), g.upload(&k).unwrap(), g.upload(&v).unwrap());
        let (od, lse) = (g.zeros::<f32>(t * qd).unwrap(), g.zeros::<f32>(4 * t).unwrap());
        let kv = KvLayout::token_major(2, hd);
        attention_forward_gpu(&g, &s, Mat::new(&qdv, t, qd).unwrap(), &kdv, &vdv, kv, &seqs, Mat::new(&od, t, qd).unwrap(), Some(&lse))
            .unwrap();
        let tag = format!("d={hd} window={window:?}");
        assert_close(&format!("attention out {tag}"), &dl(&g, &od, t * qd), &out, 1e-4);
        let (dod, dvec) = (g.upload(&dout).unwrap(), g.zeros::<f32>(4 * t).unwrap());
        let (dqd, dkd, dvd) = (g.zeros::<f32>(t * qd).unwrap(), g.zeros::<f32>(t * kvd).unwrap(), g.zeros::<f32>(t * kvd).unwrap());
        attention_backward_gpu(
            &g,
            &s,
            Mat::new(&qdv, t, qd).unwrap(),
            &kdv,
            &vdv,
            kv,
            &seqs,
            Mat::new(&od, t, qd).unwrap(),
            Mat::new(&dod, t, qd).unwrap(),
            &lse,
            &dvec,
            Mat::new(&dqd, t, qd).unwrap(),
            &dkd,
            &dvd,
        )
        .unwrap();
        assert_close(&format!("attention dq {tag}"), &dl(&g, &dqd, t * qd), &dq, 1e-4);
        assert_close(&format!("attention dk {tag}"), &dl(&g, &dkd, t * kvd), &dk, 1e-4);
        assert_close(&format!("attention dv {tag}"), &dl(&g, &dvd, t * kvd), &dv, 1e-4);
    }
}

/// The fused output layer + cross-entropy in vocabulary chunks, on bf16
/// weights, against the CPU's panel walk on the same (bf16-valued) weights;
/// h is pre-rounded to bf16 so both sides multiply the same operands.
#[test]
fn fused_cross_entropy_matches_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(5);
    let (n, d, vocab) = (19, 128, 40_000); // several 256-row CPU panels; a partial GPU chunk
    let wv = rand(&mut rng, vocab * d, 1.0);
    let wt = QTensor::from_f32("lm_head", vec![vocab, d], &wv).unwrap();
    let host = HostWeight::bf16_of(&wt).unwrap();
    let wref = host.reference().unwrap();
    let h = bf16r(&rand(&mut rng, n * d, 1.0));
    let targets: Vec<u32> = (0..n).map(|i| ((i * 7919) % vocab) as u32).collect();
    let mut dh = vec![0f32; n * d];
    let want = fused_linear_cross_entropy(&h, &targets, &wref, 0.25, Some(&mut dh));
    let w = host.upload(&g).unwrap();
    let (hd, dhd) = (g.upload(&h).unwrap(), g.zeros::<f32>(n * d).unwrap());
    let got =
        fused_linear_cross_entropy_gpu(&g, Mat::new(&hd, n, d).unwrap(), &targets, &w, 0.25, Some(Mat::new(&dhd, n, d).unwrap())).unwrap();
    assert!((got.loss_sum - want.loss_sum).abs() <= 1e-5 * want.loss_sum.abs(), "loss {} vs {}", got.loss_sum, want.loss_sum);
    assert_eq!((got.correct, got.count), (want.correct, want.count));
    assert_close("dh", &dl(&g, &dhd, n * d), &dh, 1e-4);
    assert!(
        fused_linear_cross_entropy_gpu(&g, Mat::new(&hd, n, d).unwrap(), &[vocab as u32; 19], &w, 1.0, None).is_err(),
        "a target outside the vocabulary is refused"
    );
}

#[test]
fn adamw_and_grad_norm_match_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(6);
    let n = 10_001;
    let opt = AdamW { weight_decay: 0.01, ..AdamW::default() };
    let (mut p, mut m, mut v) = (rand(&mut rng, n, 1.0), vec![0f32; n], vec![0f32; n]);
    let (pd, md, vd) = (g.upload(&p).unwrap(), g.upload(&m).unwrap(), g.upload(&v).unwrap());
    for step in 1..=3u64 {
        let grad = rand(&mut rng, n, 0.1);
        let coef = 0.7f32;
        let clipped: Vec<f32> = grad.iter().map(|x| x * coef).collect();
        opt.step(step, 2e-4, &mut p, &clipped, &mut m, &mut v);
        let gd = g.upload(&grad).unwrap();
        adamw_step_gpu(&g, &opt, step, 2e-4, coef, &pd, &gd, &md, &vd, n).unwrap();
        for (name, dev, host) in [("p", &pd, &p), ("m", &md, &m), ("v", &vd, &v)] {
            let got = dl(&g, dev, n);
            assert!(
                got.iter().zip(host.iter()).all(|(a, b)| a.to_bits() == b.to_bits()),
                "adamw {name} differs from the CPU at step {step}"
            );
        }
        let norm = global_norm_gpu(&g, &[(&gd, n), (&pd, 100)]).unwrap();
        let want = global_norm([&grad[..], &p[..100]]);
        assert!((norm - want).abs() <= 1e-6 * want, "grad norm {norm} vs {want}");
    }
}

#[test]
fn embedding_gather_and_scatter() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(7);
    let (vocab, d) = (50, 64);
    let table = rand(&mut rng, vocab * d, 1.0);
    let bits: Vec<u16> = table.iter().map(|&x| half::bf16::from_f32(x).to_bits()).collect();
    let ids: Vec<u32> = vec![3, 49, 0, 3, 17];
    let (td, idd, out) = (g.upload(&bits).unwrap(), g.upload(&ids).unwrap(), g.zeros::<f32>(ids.len() * d).unwrap());
    embed_gpu(&g, &idd, ids.len(), &td, d, Some(8.0), &out).unwrap();
    let got = dl(&g, &out, ids.len() * d);
    for (t, &id) in ids.iter().enumerate() {
        for c in 0..d {
            assert_eq!(got[t * d + c], half::bf16::from_bits(bits[id as usize * d + c]).to_f32() * 8.0);
        }
    }
    let rows: Vec<u32> = vec![4, 1, 2];
    let rd = g.upload(&rows).unwrap();
    let gathered = g.zeros::<f32>(3 * d).unwrap();
    gather_rows_gpu(&g, &out, &rd, 3, d, &gathered).unwrap();
    let back = g.zeros::<f32>(ids.len() * d).unwrap();
    scatter_rows_gpu(&g, &gathered, &rd, 3, d, &back).unwrap();
    let b = dl(&g, &back, ids.len() * d);
    for r in 0..ids.len() {
        let kept = rows.contains(&(r as u32));
        for c in 0..d {
            assert_eq!(b[r * d + c], if kept { got[r * d + c] } else { 0.0 });
        }
    }
}
