//! Rotary position embeddings, "rotate-half" (GPT-NeoX) layout: dimension i
//! of a head is paired with i + d/2. That is Hugging Face's layout for every
//! family; GGUF llama files store q/k permuted for the interleaved layout and
//! are un-permuted at load, so only this one layout exists here.
//!
//! Forward rotates each pair by +θ(pos, i); backward rotates the gradient by
//! −θ (the rotation is orthogonal, so its transpose is its inverse).

/// Rotary embedding frequencies for one kind of layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Rope {
    pub theta: f64,
    /// Llama-3 style frequency scaling, or plain linear scaling.
    pub scaling: Option<RopeScaling>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    /// Positions divided by `factor` (inv_freq / factor).
    Linear { factor: f64 },
    /// Llama 3.1's piecewise wavelength scaling.
    Llama3 { factor: f64, low_freq_factor: f64, high_freq_factor: f64, original_max_position: f64 },
}

impl Rope {
    /// Checks that the frequencies are finite and positive (a base of 0, NaN
    /// or a negative one gives NaN angles everywhere), naming `field`.
    pub fn validate(&self, field: &str) -> crate::Result<()> {
        let positive = |name: &str, x: f64| {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                Err(crate::Error::config(name, format!("{x} is not a positive finite number")))
            }
        };
        positive(field, self.theta)?;
        match &self.scaling {
            None => Ok(()),
            Some(RopeScaling::Linear { factor }) => positive("rope_scaling.factor", *factor),
            Some(RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_max_position }) => {
                positive("rope_scaling.factor", *factor)?;
                positive("rope_scaling.low_freq_factor", *low_freq_factor)?;
                positive("rope_scaling.original_max_position_embeddings", *original_max_position)?;
                if high_freq_factor.is_finite() && high_freq_factor > low_freq_factor {
                    Ok(())
                } else {
                    Err(crate::Error::config(
                        "rope_scaling.high_freq_factor",
                        format!("{high_freq_factor} must exceed low_freq_factor {low_freq_factor}"),
                    ))
                }
            }
        }
    }

    /// Inverse frequencies for `dim` rotated dimensions (dim/2 values), in f64.
    pub fn inv_freq(&self, dim: usize) -> Vec<f64> {
        let base: Vec<f64> = (0..dim / 2).map(|i| 1.0 / self.theta.powf(2.0 * i as f64 / dim as f64)).collect();
        match &self.scaling {
            None => base,
            Some(RopeScaling::Linear { factor }) => base.iter().map(|f| f / factor).collect(),
            Some(RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_max_position }) => {
                let low_wavelen = original_max_position / low_freq_factor;
                let high_wavelen = original_max_position / high_freq_factor;
                base.iter()
                    .map(|&f| {
                        let wavelen = 2.0 * std::f64::consts::PI / f;
                        if wavelen < high_wavelen {
                            f
                        } else if wavelen > low_wavelen {
                            f / factor
                        } else {
                            let smooth = (original_max_position / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * f / factor + smooth * f
                        }
                    })
                    .collect()
            }
        }
    }
}

/// cos/sin of θ(pos, i) = pos · inv_freq[i], for positions 0..len.
#[derive(Clone, Debug)]
pub struct RopeTable {
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl RopeTable {
    /// Angles are computed in f64 and rounded once, the most exact choice;
    /// PyTorch computes them in f32, which differs by < 1e-4 rad at position 4096.
    pub fn new(rope: &Rope, head_dim: usize, len: usize) -> Self {
        let inv = rope.inv_freq(head_dim);
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for p in 0..len {
            for &f in &inv {
                let a = p as f64 * f;
                cos.push(a.cos() as f32);
                sin.push(a.sin() as f32);
            }
        }
        RopeTable { half, cos, sin }
    }

    pub fn len(&self) -> usize {
        self.cos.len() / self.half.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tables `[positions, head_dim/2]` (cos, sin), for the GPU copy.
    pub fn cos_sin(&self) -> (&[f32], &[f32]) {
        (&self.cos, &self.sin)
    }

    /// head_dim / 2.
    pub fn half(&self) -> usize {
        self.half
    }

    /// Rotates `x` (rows of `n_heads * head_dim`, row t at position `positions[t]`).
    pub fn forward(&self, x: &mut [f32], n_heads: usize, positions: &[usize]) {
        self.rotate(x, n_heads, positions, 1.0)
    }

    /// Gradient: rotates `dx` back by −θ in place.
    pub fn backward(&self, dx: &mut [f32], n_heads: usize, positions: &[usize]) {
        self.rotate(dx, n_heads, positions, -1.0)
    }

    fn rotate(&self, x: &mut [f32], n_heads: usize, positions: &[usize], sign: f32) {
        let half = self.half;
        let row = n_heads * 2 * half;
        assert_eq!(x.len(), positions.len() * row, "rope: {} values for {} positions", x.len(), positions.len());
        for (xr, &p) in x.chunks_exact_mut(row).zip(positions) {
            assert!(p < self.len(), "rope table of {} positions used at position {p}", self.len());
            let c = &self.cos[p * half..(p + 1) * half];
            let s = &self.sin[p * half..(p + 1) * half];
            for head in xr.chunks_exact_mut(2 * half) {
                let (a, b) = head.split_at_mut(half);
                for i in 0..half {
                    let (x0, x1) = (a[i], b[i]);
                    let si = sign * s[i];
                    // HF: q*cos + rotate_half(q)*sin, rotate_half([a, b]) = [-b, a].
                    a[i] = x0 * c[i] - x1 * si;
                    b[i] = x1 * c[i] + x0 * si;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_and_inverse() {
        let rope = Rope { theta: 10000.0, scaling: None };
        let t = RopeTable::new(&rope, 8, 10);
        let orig: Vec<f32> = (0..2 * 16).map(|i| i as f32 * 0.1 - 1.0).collect();
        let mut x = orig.clone();
        let pos = [3, 7];
        t.forward(&mut x, 2, &pos);
        // Position 3, head 0, pair 0: angle 3 rad.
        let (c, s) = (3f32.cos(), 3f32.sin());
        assert!((x[0] - (orig[0] * c - orig[4] * s)).abs() < 1e-6);
        assert!((x[4] - (orig[4] * c + orig[0] * s)).abs() < 1e-6);
        // Norm preserved, and backward undoes forward.
        let n0: f32 = orig.iter().map(|v| v * v).sum();
        let n1: f32 = x.iter().map(|v| v * v).sum();
        assert!((n0 - n1).abs() < 1e-4);
        t.backward(&mut x, 2, &pos);
        assert!(x.iter().zip(&orig).all(|(a, b)| (a - b).abs() < 1e-6));
    }
}
