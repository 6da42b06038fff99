//! Every SIMD level this CPU runs against the scalar reference, on random
//! valid blocks: `dequantize` must be bit-identical, `dot` within the f32
//! rounding bound below. Block counts are odd and varied so that the
//! grouped/unrolled loops and their tails are all exercised.

use dyag::quant::random::random_blocks;
use dyag::quant::{self, available_levels, GgmlType, SimdLevel};
use dyag::util::rng::Rng;

const BLOCK_COUNTS: [usize; 6] = [1, 2, 3, 7, 13, 40];

fn random_x(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
}

/// Worst-case error bound of an f32 dot product of n terms in any summation
/// order (with or without FMA): |computed - exact| <= γ_n Σ|w_i x_i| with
/// γ_n = n·u/(1 - n·u), u = 2^-24 (Higham, Accuracy and Stability of Numerical
/// Algorithms, §3.1). Both the reference and the SIMD kernels sum the same exact
/// products w_i·x_i (the weights are exact), so each lies within that bound of
/// the exact value computed in f64; the test checks the kernel against the exact
/// value, which makes it independent of the order the reference happens to use.
fn assert_dot_close(what: &str, got: f32, w: &[f32], x: &[f32]) {
    let exact: f64 = w.iter().zip(x).map(|(a, b)| *a as f64 * *b as f64).sum();
    let abs: f64 = w.iter().zip(x).map(|(a, b)| (*a as f64 * *b as f64).abs()).sum();
    let nu = w.len() as f64 * 2f64.powi(-24);
    let bound = nu / (1.0 - nu) * abs;
    assert!(
        (got as f64 - exact).abs() <= bound,
        "{what}: dot {got} differs from exact {exact} by {} > bound {bound}",
        (got as f64 - exact).abs()
    );
}

#[test]
fn every_level_dequantizes_bit_exactly() {
    let mut rng = Rng::new(0x5eed_0001);
    for ty in GgmlType::ALL {
        for nb in BLOCK_COUNTS {
            let nb = if ty.block_size() == 1 { nb * 37 } else { nb };
            let src = random_blocks(ty, nb, &mut rng);
            let n = nb * ty.block_size();
            let mut want = vec![0f32; n];
            quant::dequantize_reference(ty, &src, &mut want).unwrap();
            assert!(want.iter().all(|v| v.is_finite()), "{ty}: random blocks gave non-finite values");
            for level in available_levels() {
                let mut got = vec![f32::NAN; n];
                quant::dequantize_with(level, ty, &src, &mut got).unwrap();
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g.to_bits(), w.to_bits(), "{ty} at {level}, {nb} blocks: element {i} is {g}, reference {w}");
                }
            }
        }
    }
}

#[test]
fn every_level_dot_matches_exact_products() {
    let mut rng = Rng::new(0x5eed_0002);
    for ty in GgmlType::ALL {
        for nb in BLOCK_COUNTS {
            let nb = if ty.block_size() == 1 { nb * 37 } else { nb };
            let row = random_blocks(ty, nb, &mut rng);
            let n = nb * ty.block_size();
            let x = random_x(n, &mut rng);
            let mut w = vec![0f32; n];
            quant::dequantize_reference(ty, &row, &mut w).unwrap();
            assert_dot_close(&format!("{ty} reference, {nb} blocks"), quant::dot_reference(ty, &row, &x), &w, &x);
            for level in available_levels() {
                let got = quant::dot_with(level, ty, &row, &x);
                assert_dot_close(&format!("{ty} at {level}, {nb} blocks"), got, &w, &x);
            }
        }
    }
}

#[test]
fn default_entry_points_use_a_supported_level() {
    let level = quant::simd_level();
    assert!(available_levels().contains(&level));
    assert!(available_levels().contains(&SimdLevel::Scalar));
    assert!(!quant::cpu_features().is_empty());
    // The default path agrees with the explicit one.
    let mut rng = Rng::new(7);
    let row = random_blocks(GgmlType::Q8_0, 20, &mut rng);
    let x = random_x(640, &mut rng);
    assert_eq!(quant::dot(GgmlType::Q8_0, &row, &x).to_bits(), quant::dot_with(level, GgmlType::Q8_0, &row, &x).to_bits());
}

#[test]
fn wrong_lengths_are_errors_not_panics() {
    let mut out = vec![0f32; 32];
    let err = quant::dequantize(GgmlType::Q4_K, &[0u8; 100], &mut out).unwrap_err().to_string();
    assert!(err.contains("Q4_K") && err.contains("144-byte blocks"), "{err}");
    let err = quant::dequantize(GgmlType::Q8_0, &[0u8; 68], &mut out).unwrap_err().to_string();
    assert!(err.contains("64 values") && err.contains("32"), "{err}");
    let err = quant::dequantize_reference(GgmlType::F32, &[0u8; 6], &mut out).unwrap_err().to_string();
    assert!(err.contains("4-byte blocks"), "{err}");
}

/// In release builds a dot with mismatched lengths must still be safe: it uses
/// the whole blocks both sides cover. (Debug builds assert instead.)
#[test]
#[cfg(not(debug_assertions))]
fn dot_with_mismatched_lengths_stays_in_bounds() {
    let mut rng = Rng::new(9);
    let row = random_blocks(GgmlType::Q4_K, 3, &mut rng);
    let x = random_x(3 * 256, &mut rng);
    for level in available_levels() {
        let short_x = quant::dot_with(level, GgmlType::Q4_K, &row, &x[..300]);
        let short_row = quant::dot_with(level, GgmlType::Q4_K, &row[..144], &x[..256]);
        assert_eq!(short_x.to_bits(), short_row.to_bits());
        let _ = quant::dot_with(level, GgmlType::Q4_K, &row[..100], &x);
    }
}

#[test]
fn dot_rows_equals_row_by_row_dots() {
    let mut rng = Rng::new(0x5eed_0003);
    for ty in GgmlType::ALL {
        let cols = if ty.block_size() == 1 { 75 } else { 3 * ty.block_size() };
        let rows = 5;
        let w = random_blocks(ty, rows * cols / ty.block_size(), &mut rng);
        let x = random_x(cols, &mut rng);
        let rb = ty.row_bytes(cols).unwrap();
        for level in available_levels() {
            let mut y = vec![f32::NAN; rows];
            quant::dot_rows_with(level, ty, &w, &x, &mut y).unwrap();
            for (r, got) in y.iter().enumerate() {
                let want = quant::dot_with(level, ty, &w[r * rb..(r + 1) * rb], &x);
                assert_eq!(got.to_bits(), want.to_bits(), "{ty} at {level}, row {r}");
            }
        }
    }
    let mut y = vec![0f32; 2];
    let err = quant::dot_rows(GgmlType::Q8_0, &[0u8; 68], &[0f32; 33], &mut y).unwrap_err().to_string();
    assert!(err.contains("33 values"), "{err}");
    let err = quant::dot_rows(GgmlType::Q8_0, &[0u8; 67], &[0f32; 32], &mut y).unwrap_err().to_string();
    assert!(err.contains("67 bytes") && err.contains("2 rows of 34 bytes"), "{err}");
}
