//! Train/validation/test split. Questions that differ only by case, accents
//! or punctuation (augmented variants of one question) stay on the same side,
//! so the test set never holds a trivially rephrased training question.

use crate::data::example::Example;
use crate::data::text::question_key;
use crate::util::rng::Rng;
use crate::{Error, Result};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitRatios {
    pub train: f64,
    pub val: f64,
    pub test: f64,
}

impl Default for SplitRatios {
    fn default() -> Self {
        SplitRatios { train: 0.8, val: 0.1, test: 0.1 }
    }
}

impl std::str::FromStr for SplitRatios {
    type Err = Error;
    /// "0.8,0.1,0.1" (or "80,10,10": any three non-negative numbers are normalised).
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<f64> = s
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<f64>()
                    .map_err(|_| Error::invalid(format!("--split-ratios: '{p}' is not a number (expected e.g. 0.8,0.1,0.1)")))
            })
            .collect::<Result<_>>()?;
        let [train, val, test] = parts.as_slice() else {
            return Err(Error::invalid(format!(
                "--split-ratios needs three numbers train,val,test (e.g. 0.8,0.1,0.1), got {}",
                parts.len()
            )));
        };
        if parts.iter().any(|p| !p.is_finite() || *p < 0.0) {
            return Err(Error::invalid("--split-ratios: the ratios must be non-negative numbers"));
        }
        let sum = train + val + test;
        if sum <= 0.0 || *train <= 0.0 {
            return Err(Error::invalid("--split-ratios: the train ratio must be positive"));
        }
        Ok(SplitRatios { train: train / sum, val: val / sum, test: test / sum })
    }
}

#[derive(Debug, Default)]
pub struct Split {
    pub train: Vec<Example>,
    pub val: Vec<Example>,
    pub test: Vec<Example>,
}

/// Splits `examples` (already in their final order) into sizes as close to
/// the ratios as the groups of variants allow; each part keeps that order.
pub fn split(examples: Vec<Example>, ratios: SplitRatios, rng: &mut Rng) -> Split {
    let n = examples.len();
    let want_test = (n as f64 * ratios.test).round() as usize;
    let want_val = ((n as f64 * ratios.val).round() as usize).min(n - want_test);
    // Groups of the same question key, in order of first appearance.
    let mut group_of: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, ex) in examples.iter().enumerate() {
        let g = *group_of.entry(question_key(&ex.question)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut order: Vec<usize> = (0..groups.len()).collect();
    rng.shuffle(&mut order);
    // 0 = train, 1 = val, 2 = test
    let mut side = vec![0u8; n];
    let (mut n_test, mut n_val) = (0, 0);
    for g in order {
        let size = groups[g].len();
        let s = if n_test + size <= want_test {
            n_test += size;
            2
        } else if n_val + size <= want_val {
            n_val += size;
            1
        } else {
            0
        };
        for &i in &groups[g] {
            side[i] = s;
        }
    }
    let mut out = Split::default();
    for (i, ex) in examples.into_iter().enumerate() {
        match side[i] {
            2 => out.test.push(ex),
            1 => out.val.push(ex),
            _ => out.train.push(ex),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(q: &str) -> Example {
        Example { record: Some(0), intent: "x".into(), question: q.into(), answer: "a".into(), facts: vec![], prompt: None }
    }

    #[test]
    fn sizes_and_groups() {
        let mut v: Vec<Example> = (0..100).map(|i| ex(&format!("Question {i} ?"))).collect();
        v.push(ex("question 5"));
        let s = split(v, SplitRatios::default(), &mut Rng::new(1));
        assert_eq!(s.train.len() + s.val.len() + s.test.len(), 101);
        assert_eq!(s.test.len(), 10);
        assert_eq!(s.val.len(), 10);
        let side_of = |q: &str| {
            if s.test.iter().any(|e| e.question == q) {
                2
            } else if s.val.iter().any(|e| e.question == q) {
                1
            } else {
                0
            }
        };
        assert_eq!(side_of("Question 5 ?"), side_of("question 5"));
    }

    #[test]
    fn ratios_parse() {
        assert_eq!("80,10,10".parse::<SplitRatios>().unwrap(), SplitRatios { train: 0.8, val: 0.1, test: 0.1 });
        assert!("0.8,0.2".parse::<SplitRatios>().is_err());
        assert!("0.8,x,0.1".parse::<SplitRatios>().is_err());
        assert!("0,0.5,0.5".parse::<SplitRatios>().is_err());
        assert!("0.8,-0.1,0.3".parse::<SplitRatios>().is_err());
    }
}
