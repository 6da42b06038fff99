//! Learning-rate schedules as transformers defines them: linear warm-up,
//! then cosine or linear decay to zero. Optimiser step k (0-based) uses
//! lr · λ(k), so with warm-up the very first step has lr 0, as in transformers.

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Cosine,
    Linear,
    Constant,
}

#[derive(Clone, Copy, Debug)]
pub struct LrSchedule {
    pub base: f64,
    pub warmup: usize,
    pub total: usize,
    pub kind: Schedule,
}

impl LrSchedule {
    /// Warm-up steps = ⌈ratio · total⌉ (transformers' `get_warmup_steps`).
    pub fn new(base: f64, warmup_ratio: f64, total: usize, kind: Schedule) -> Self {
        let warmup = (warmup_ratio * total as f64).ceil() as usize;
        LrSchedule { base, warmup, total, kind }
    }

    pub fn lr(&self, step: usize) -> f64 {
        self.base * self.factor(step)
    }

    fn factor(&self, step: usize) -> f64 {
        if step < self.warmup {
            return step as f64 / self.warmup.max(1) as f64;
        }
        let rest = (self.total.saturating_sub(self.warmup)).max(1) as f64;
        let progress = (step - self.warmup) as f64 / rest;
        match self.kind {
            Schedule::Constant => 1.0,
            Schedule::Linear => ((self.total as f64 - step as f64) / rest).max(0.0),
            Schedule::Cosine => (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_decay() {
        let s = LrSchedule::new(1.0, 0.1, 100, Schedule::Cosine);
        assert_eq!(s.warmup, 10);
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(5) - 0.5).abs() < 1e-12);
        assert!((s.lr(10) - 1.0).abs() < 1e-12);
        assert!((s.lr(55) - 0.5).abs() < 1e-12);
        assert!(s.lr(100).abs() < 1e-12);
        let l = LrSchedule::new(2.0, 0.0, 4, Schedule::Linear);
        assert_eq!((l.lr(0), l.lr(2), l.lr(4)), (2.0, 1.0, 0.0));
        assert_eq!(LrSchedule::new(3.0, 0.03, 10, Schedule::Constant).lr(5), 3.0);
    }
}
