//! Dequantisation against values computed independently by the Python `gguf`
//! package (tests/data/quant/, see its README): the scalar reference and every
//! SIMD level must reproduce them bit for bit, and every level's `dot` must
//! match the float64 dot product within the f32 rounding bound.

use dyag::quant::{self, available_levels, GgmlType};
use std::path::Path;

struct Case {
    ty: GgmlType,
    blocks: Vec<u8>,
    values: Vec<f32>,
    x: Vec<f32>,
    dot: f64,
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

fn load(ty: GgmlType) -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/quant").join(format!("{}.bin", ty.name()));
    let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..4], b"DYQR", "{}", path.display());
    let u = |i: usize| u32::from_le_bytes(b[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize;
    let (id, n_blocks, n, m) = (u(0), u(1), u(2), u(3));
    assert_eq!(GgmlType::from_id(id as u32), Some(ty));
    assert_eq!(m, n_blocks * ty.block_bytes());
    assert_eq!(n, n_blocks * ty.block_size());
    let mut at = 20;
    let blocks = b[at..at + m].to_vec();
    at += m;
    let values = f32s(&b[at..at + 4 * n]);
    at += 4 * n;
    let x = f32s(&b[at..at + 4 * n]);
    at += 4 * n;
    let dot = f64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    assert_eq!(at + 8, b.len());
    Case { ty, blocks, values, x, dot }
}

const TYPES: [GgmlType; 13] = {
    use GgmlType::*;
    [F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K]
};

#[track_caller]
fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: element {i} is {g:e}, gguf-py gives {w:e}");
    }
}

#[test]
fn reference_dequantizer_matches_gguf_py_bit_for_bit() {
    for ty in TYPES {
        let c = load(ty);
        let mut got = vec![f32::NAN; c.values.len()];
        quant::dequantize_reference(c.ty, &c.blocks, &mut got).unwrap();
        assert_bits(&format!("{ty} reference"), &got, &c.values);
    }
}

#[test]
fn every_level_matches_gguf_py() {
    for ty in TYPES {
        let c = load(ty);
        // Worst-case bound of an f32 dot product of n exact terms in any order,
        // with or without FMA: γ_n Σ|w_i x_i|, γ_n = n·u/(1 - n·u), u = 2^-24
        // (Higham, Accuracy and Stability of Numerical Algorithms, §3.1). The
        // weights are exact, so this is the only error; a relative tolerance on
        // the result alone would be meaningless when terms cancel.
        let n = c.values.len() as f64;
        let abs: f64 = c.values.iter().zip(&c.x).map(|(w, x)| (*w as f64 * *x as f64).abs()).sum();
        let bound = n * 2f64.powi(-24) / (1.0 - n * 2f64.powi(-24)) * abs;
        for level in available_levels() {
            let mut got = vec![f32::NAN; c.values.len()];
            quant::dequantize_with(level, c.ty, &c.blocks, &mut got).unwrap();
            assert_bits(&format!("{ty} at {level}"), &got, &c.values);
            let d = quant::dot_with(level, c.ty, &c.blocks, &c.x) as f64;
            assert!((d - c.dot).abs() <= bound, "{ty} dot at {level}: {d} vs {} (bound {bound})", c.dot);
        }
        let d = quant::dot_reference(c.ty, &c.blocks, &c.x) as f64;
        assert!((d - c.dot).abs() <= bound, "{ty} reference dot: {d} vs {}", c.dot);
    }
}
