//! Gated MLP activations: out = act(gate) ⊙ up, for SwiGLU (SiLU) and GeGLU
//! (tanh-approximated GELU), forward and backward.
//!
//! SiLU:  s(x) = x·σ(x),                s'(x) = σ(x)·(1 + x·(1 − σ(x)))
//! GELU:  g(x) = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³)
//!        g'(x) = ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²)

use crate::cpu::simd::Simd;
use rayon::prelude::*;

/// The MLP non-linearity applied to the gate projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// x·σ(x) (SwiGLU).
    Silu,
    /// GELU, tanh approximation (GeGLU, `gelu_pytorch_tanh`).
    GeluTanh,
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;
const CHUNK: usize = 4096;

/// out[i] = act(gate[i]) · up[i].
pub fn glu_forward(act: Activation, gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(gate.len() == up.len() && out.len() == gate.len());
    let kernel = match act {
        Activation::Silu => silu_glu as fn(&[f32], &[f32], &mut [f32]),
        Activation::GeluTanh => gelu_glu,
    };
    if out.len() >= 4 * CHUNK {
        out.par_chunks_mut(CHUNK).zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK))).for_each(|(o, (g, u))| kernel(g, u, o));
    } else {
        kernel(gate, up, out);
    }
}

/// Gradients of gate and up from d(out); both written (not accumulated).
pub fn glu_backward(act: Activation, gate: &[f32], up: &[f32], dout: &[f32], dgate: &mut [f32], dup: &mut [f32]) {
    let n = gate.len();
    assert!(up.len() == n && dout.len() == n && dgate.len() == n && dup.len() == n);
    let kernel = match act {
        Activation::Silu => silu_glu_backward as fn(&[f32], &[f32], &[f32], &mut [f32], &mut [f32]),
        Activation::GeluTanh => gelu_glu_backward,
    };
    if n >= 4 * CHUNK {
        gate.par_chunks(CHUNK)
            .zip(up.par_chunks(CHUNK))
            .zip(dout.par_chunks(CHUNK))
            .zip(dgate.par_chunks_mut(CHUNK).zip(dup.par_chunks_mut(CHUNK)))
            .for_each(|(((g, u), d), (dg, du))| kernel(g, u, d, dg, du));
    } else {
        kernel(gate, up, dout, dgate, dup);
    }
}

crate::simd_dispatch!(fn silu_glu_backward(gate: &[f32], up: &[f32], dout: &[f32], dgate: &mut [f32], dup: &mut [f32]) => silu_glu_backward_kernel);
crate::simd_dispatch!(fn gelu_glu_backward(gate: &[f32], up: &[f32], dout: &[f32], dgate: &mut [f32], dup: &mut [f32]) => gelu_glu_backward_kernel);

#[inline(always)]
fn silu_glu_backward_kernel<S: Simd>(gate: &[f32], up: &[f32], dout: &[f32], dgate: &mut [f32], dup: &mut [f32]) {
    let n = gate.len().min(up.len()).min(dout.len()).min(dgate.len()).min(dup.len());
    let nv = n - n % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤ n,
    // the length of the shortest slice; S is the level simd_dispatch! checked
    // the CPU runs (this private kernel is only instantiated by it).
    unsafe {
        let one = S::splat(1.0);
        let mut i = 0;
        while i < nv {
            let x = S::load(gate.as_ptr().add(i));
            let d = S::load(dout.as_ptr().add(i));
            let s = S::div(one, S::add(one, S::exp(S::sub(S::zero(), x))));
            let a = S::mul(x, s);
            let da = S::mul(s, S::fma(x, S::sub(one, s), one));
            S::store(dup.as_mut_ptr().add(i), S::mul(d, a));
            S::store(dgate.as_mut_ptr().add(i), S::mul(S::mul(d, S::load(up.as_ptr().add(i))), da));
            i += S::LANES;
        }
    }
    for i in nv..n {
        let (a, da) = act_and_grad(Activation::Silu, gate[i]);
        dup[i] = dout[i] * a;
        dgate[i] = dout[i] * up[i] * da;
    }
}

#[inline(always)]
fn gelu_glu_backward_kernel<S: Simd>(gate: &[f32], up: &[f32], dout: &[f32], dgate: &mut [f32], dup: &mut [f32]) {
    let n = gate.len().min(up.len()).min(dout.len()).min(dgate.len()).min(dup.len());
    let nv = n - n % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤ n,
    // the length of the shortest slice; S is the level simd_dispatch! checked
    // the CPU runs (this private kernel is only instantiated by it).
    unsafe {
        let (half, one, k, c, c3) = (S::splat(0.5), S::splat(1.0), S::splat(SQRT_2_OVER_PI), S::splat(GELU_C), S::splat(3.0 * GELU_C));
        let mut i = 0;
        while i < nv {
            let x = S::load(gate.as_ptr().add(i));
            let d = S::load(dout.as_ptr().add(i));
            let x2 = S::mul(x, x);
            let u = S::mul(k, S::fma(S::mul(c, x2), x, x));
            let t = S::tanh(u);
            let a = S::mul(S::mul(half, x), S::add(one, t));
            // ½(1+t) + ½x(1−t²)·k(1+3c·x²)
            let du_dx = S::mul(k, S::fma(c3, x2, one));
            let da = S::fma(S::mul(S::mul(half, x), S::sub(one, S::mul(t, t))), du_dx, S::mul(half, S::add(one, t)));
            S::store(dup.as_mut_ptr().add(i), S::mul(d, a));
            S::store(dgate.as_mut_ptr().add(i), S::mul(S::mul(d, S::load(up.as_ptr().add(i))), da));
            i += S::LANES;
        }
    }
    for i in nv..n {
        let (a, da) = act_and_grad(Activation::GeluTanh, gate[i]);
        dup[i] = dout[i] * a;
        dgate[i] = dout[i] * up[i] * da;
    }
}

/// act(x) and act'(x), in scalar f32 (the backward pass is not the bottleneck).
fn act_and_grad(act: Activation, x: f32) -> (f32, f32) {
    match act {
        Activation::Silu => {
            let s = 1.0 / (1.0 + (-x).exp());
            (x * s, s * (1.0 + x * (1.0 - s)))
        }
        Activation::GeluTanh => {
            let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
            let t = u.tanh();
            let a = 0.5 * x * (1.0 + t);
            let da = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x);
            (a, da)
        }
    }
}

crate::simd_dispatch!(fn silu_glu(gate: &[f32], up: &[f32], out: &mut [f32]) => silu_glu_kernel);
crate::simd_dispatch!(fn gelu_glu(gate: &[f32], up: &[f32], out: &mut [f32]) => gelu_glu_kernel);

#[inline(always)]
fn silu_glu_kernel<S: Simd>(gate: &[f32], up: &[f32], out: &mut [f32]) {
    let n = out.len().min(gate.len()).min(up.len());
    let nv = n - n % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤ n,
    // the length of the shortest slice; S is the level simd_dispatch! checked
    // the CPU runs (this private kernel is only instantiated by it).
    unsafe {
        let one = S::splat(1.0);
        let mut i = 0;
        while i < nv {
            let x = S::load(gate.as_ptr().add(i));
            let e = S::exp(S::sub(S::zero(), x));
            let s = S::div(x, S::add(one, e));
            S::store(out.as_mut_ptr().add(i), S::mul(s, S::load(up.as_ptr().add(i))));
            i += S::LANES;
        }
    }
    for i in nv..n {
        out[i] = act_and_grad(Activation::Silu, gate[i]).0 * up[i];
    }
}

#[inline(always)]
fn gelu_glu_kernel<S: Simd>(gate: &[f32], up: &[f32], out: &mut [f32]) {
    let n = out.len().min(gate.len()).min(up.len());
    let nv = n - n % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤ n,
    // the length of the shortest slice; S is the level simd_dispatch! checked
    // the CPU runs (this private kernel is only instantiated by it).
    unsafe {
        let (half, one, k, c) = (S::splat(0.5), S::splat(1.0), S::splat(SQRT_2_OVER_PI), S::splat(GELU_C));
        let mut i = 0;
        while i < nv {
            let x = S::load(gate.as_ptr().add(i));
            let x3 = S::mul(S::mul(x, x), x);
            let u = S::mul(k, S::fma(c, x3, x));
            let g = S::mul(S::mul(half, x), S::add(one, S::tanh(u)));
            S::store(out.as_mut_ptr().add(i), S::mul(g, S::load(up.as_ptr().add(i))));
            i += S::LANES;
        }
    }
    for i in nv..n {
        out[i] = act_and_grad(Activation::GeluTanh, gate[i]).0 * up[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(act: Activation, x: f64) -> f64 {
        match act {
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::GeluTanh => 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh()),
        }
    }

    #[test]
    fn forward_and_backward() {
        for act in [Activation::Silu, Activation::GeluTanh] {
            let gate: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 0.37).collect();
            let up: Vec<f32> = (0..37).map(|i| 1.0 + i as f32 * 0.01).collect();
            let mut out = vec![0f32; 37];
            glu_forward(act, &gate, &up, &mut out);
            for i in 0..37 {
                let want = reference(act, gate[i] as f64) * up[i] as f64;
                assert!((out[i] as f64 - want).abs() < 2e-6 * (1.0 + want.abs()), "{act:?} {i}: {} vs {want}", out[i]);
            }
            let dout: Vec<f32> = (0..37).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
            let (mut dg, mut du) = (vec![0f32; 37], vec![0f32; 37]);
            glu_backward(act, &gate, &up, &dout, &mut dg, &mut du);
            for i in 0..37 {
                let x = gate[i] as f64;
                let h = 1e-6;
                let fd = (reference(act, x + h) - reference(act, x - h)) / (2.0 * h) * up[i] as f64 * dout[i] as f64;
                assert!((dg[i] as f64 - fd).abs() < 1e-4 * (1.0 + fd.abs()), "{act:?} dgate {i}: {} vs {fd}", dg[i]);
                assert!((du[i] as f64 - reference(act, x) * dout[i] as f64).abs() < 1e-5 * (1.0 + du[i].abs() as f64));
            }
        }
    }
}
