//! AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias
//! correction), and global gradient-norm clipping as
//! torch.nn.utils.clip_grad_norm_ does it.

/// Optimiser hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamW {
    // f64 like the Python floats torch computes its scalars from; each
    // scalar is then rounded to f32 once, as torch does when applying it.
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamW {
    fn default() -> Self {
        AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

impl AdamW {
    /// One update of `p` with gradient `g` at step `t` (1-based), moments `m`, `v`.
    /// Same arithmetic as torch's single-tensor implementation:
    /// p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
    /// p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε).
    pub fn step(&self, t: u64, lr: f64, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        assert!(p.len() == g.len() && m.len() == g.len() && v.len() == g.len());
        let bc1 = 1.0 - self.beta1.powi(t as i32);
        let bc2 = 1.0 - self.beta2.powi(t as i32);
        let neg_step = (-(lr / bc1)) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let decay = (1.0 - lr * self.weight_decay) as f32;
        let (w1, b2, w2, eps) = ((1.0 - self.beta1) as f32, self.beta2 as f32, (1.0 - self.beta2) as f32, self.eps as f32);
        for i in 0..p.len() {
            if self.weight_decay != 0.0 {
                p[i] *= decay;
            }
            // exp_avg.lerp_(grad, 1 − β1): m + w·(g − m) for w < ½.
            m[i] += w1 * (g[i] - m[i]);
            // exp_avg_sq.mul_(β2).addcmul_(g, g, value = 1 − β2)
            v[i] = v[i] * b2 + w2 * g[i] * g[i];
            // param.addcdiv_(m, √v / √bc2 + ε, value = −lr/bc1)
            let denom = v[i].sqrt() / bc2_sqrt + eps;
            p[i] += neg_step * (m[i] / denom);
        }
    }
}

/// √(Σ g²) over every gradient, accumulated in f64 for order-independence.
pub fn global_norm<'a>(grads: impl IntoIterator<Item = &'a [f32]>) -> f32 {
    grads.into_iter().map(|g| g.iter().map(|&x| x as f64 * x as f64).sum::<f64>()).sum::<f64>().sqrt() as f32
}

/// The factor clip_grad_norm_ multiplies gradients by: min(1, max_norm / (norm + 1e-6)).
pub fn clip_coefficient(norm: f32, max_norm: f32) -> f32 {
    if max_norm <= 0.0 {
        return 1.0; // no clipping (transformers' max_grad_norm = 0)
    }
    (max_norm / (norm + 1e-6)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_steps_follow_the_formula() {
        let opt = AdamW { weight_decay: 0.1, ..AdamW::default() };
        let (mut p, mut m, mut v) = (vec![1.0f32, -2.0], vec![0.0; 2], vec![0.0; 2]);
        let g = [0.5f32, -0.25];
        opt.step(1, 1e-3, &mut p, &g, &mut m, &mut v);
        // Step 1: m̂ = g, v̂ = g², update ≈ lr·sign(g); decay 1 − 1e-4 first.
        for i in 0..2 {
            let p0 = [1.0f32, -2.0][i] * (1.0 - 1e-4);
            let want = p0 - 1e-3 * g[i] / (g[i].abs() + 1e-8);
            assert!((p[i] - want).abs() < 1e-6, "{} vs {want}", p[i]);
        }
        assert_eq!(clip_coefficient(0.5, 1.0), 1.0);
        assert!((clip_coefficient(2.0, 1.0) - 0.5).abs() < 1e-6);
        assert!((global_norm([&[3.0f32][..], &[4.0][..]]) - 5.0).abs() < 1e-6);
    }
}
