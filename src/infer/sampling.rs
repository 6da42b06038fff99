//! Choosing the next token from logits: greedy, or temperature with top-k
//! and top-p (nucleus) filtering, reproducible through a seeded RNG.

use super::SamplingParams;
use crate::util::rng::Rng;

/// The highest logit's index; the lowest index wins ties (as the references do).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
}

impl Sampler {
    pub fn new(params: &SamplingParams) -> Self {
        Sampler { params: params.clone(), rng: Rng::new(params.seed) }
    }

    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let p = &self.params;
        if p.temperature <= 0.0 || p.top_k == 1 {
            return argmax(logits);
        }
        let inv_t = 1.0 / p.temperature;
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        // Candidates sorted by logit, best first: all of them only if no filter asks for fewer.
        let mut k = if p.top_k > 0 { p.top_k.min(logits.len()) } else { logits.len() };
        if p.top_p < 1.0 && p.top_k == 0 {
            // Nucleus without top-k: grow a prefix until it holds top_p of the mass,
            // instead of sorting the whole (often 256k-token) vocabulary.
            let z: f64 = logits.iter().map(|&v| (((v - max) * inv_t) as f64).exp()).sum();
            k = 64.min(logits.len());
            loop {
                let top = top_indices(logits, k);
                let mass: f64 = top.iter().map(|&i| (((logits[i] - max) * inv_t) as f64).exp()).sum::<f64>() / z;
                if mass >= p.top_p as f64 || k == logits.len() {
                    break;
                }
                k = (k * 4).min(logits.len());
            }
        }
        let idx = top_indices(logits, k);
        let mut probs: Vec<f64> = idx.iter().map(|&i| (((logits[i] - max) * inv_t) as f64).exp()).collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|q| *q /= total);
        let mut keep = probs.len();
        if p.top_p < 1.0 {
            let mut acc = 0.0;
            for (n, q) in probs.iter().enumerate() {
                acc += q;
                if acc >= p.top_p as f64 {
                    keep = n + 1;
                    break;
                }
            }
        }
        let mass: f64 = probs[..keep].iter().sum();
        let mut u = self.rng.next_f64() * mass;
        for (n, q) in probs[..keep].iter().enumerate() {
            if u < *q {
                return idx[n] as u32;
            }
            u -= q;
        }
        idx[keep - 1] as u32
    }
}

/// Indices of the k largest logits, largest first (ties: lower index first).
fn top_indices(logits: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    let cmp = |a: &usize, b: &usize| logits[*b].total_cmp(&logits[*a]).then(a.cmp(b));
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, cmp);
        idx.truncate(k);
    }
    idx.sort_by(cmp);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_and_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        let mut s = Sampler::new(&SamplingParams::greedy(10));
        assert_eq!(s.sample(&[0.0, -1.0, 5.0]), 2);
    }

    #[test]
    fn top_k_and_top_p_restrict_choices() {
        let logits = [5.0, 4.9, 0.0, -1.0, 4.8, -3.0];
        let mut s =
            Sampler::new(&SamplingParams { temperature: 1.0, top_k: 2, top_p: 1.0, max_tokens: 1, seed: 3, ..SamplingParams::default() });
        for _ in 0..200 {
            assert!([0, 1].contains(&s.sample(&logits)));
        }
        let mut s =
            Sampler::new(&SamplingParams { temperature: 1.0, top_k: 0, top_p: 0.5, max_tokens: 1, seed: 3, ..SamplingParams::default() });
        for _ in 0..200 {
            assert!([0, 1].contains(&s.sample(&logits)));
        }
    }

    #[test]
    fn temperature_sampling_follows_the_distribution() {
        let logits = [0.0f32, (3.0f32).ln()]; // p = 0.25, 0.75
        let mut s =
            Sampler::new(&SamplingParams { temperature: 1.0, top_k: 0, top_p: 1.0, max_tokens: 1, seed: 9, ..SamplingParams::default() });
        let ones = (0..20000).filter(|_| s.sample(&logits) == 1).count() as f64 / 20000.0;
        assert!((ones - 0.75).abs() < 0.02, "{ones}");
        // Same seed, same draws.
        let mut a = Sampler::new(&SamplingParams { seed: 4, ..SamplingParams::default() });
        let mut b = Sampler::new(&SamplingParams { seed: 4, ..SamplingParams::default() });
        let l: Vec<f32> = (0..100).map(|i| (i % 13) as f32 * 0.3).collect();
        assert!((0..50).all(|_| a.sample(&l) == b.sample(&l)));
    }
}
