//! Random but valid blocks, for tests and benchmarks of the kernels (here and
//! in other modules): every quant bit is random, every scale a finite f16 (or
//! f32) of moderate size, so the dequantised values are finite and exercise
//! every code path.

use super::GgmlType;
use crate::util::rng::Rng;

/// A finite value of magnitude in [2^-12, 2), random sign.
fn moderate(rng: &mut Rng) -> f32 {
    let mag = (1.0 + rng.next_f32()) * 2f32.powi(rng.below(13) as i32 - 12);
    if rng.below(2) == 0 {
        mag
    } else {
        -mag
    }
}

fn put_f16(bytes: &mut [u8], at: usize, v: f32) {
    bytes[at..at + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
}

/// Byte offsets of the f16 scale fields in a block of `ty` (empty for float types).
fn f16_fields(ty: GgmlType) -> &'static [usize] {
    use GgmlType::*;
    match ty {
        Q4_0 | Q5_0 | Q8_0 => &[0],
        Q4_1 | Q5_1 | Q8_1 | Q4_K | Q5_K => &[0, 2],
        Q2_K => &[80, 82],
        Q3_K => &[108],
        Q6_K => &[208],
        F32 | F16 | BF16 | Q8_K => &[],
    }
}

/// `n_blocks` random valid blocks of `ty` (for float types, `n_blocks` values).
pub fn random_blocks(ty: GgmlType, n_blocks: usize, rng: &mut Rng) -> Vec<u8> {
    let bb = ty.block_bytes();
    let mut out = vec![0u8; n_blocks * bb];
    for block in out.chunks_exact_mut(bb) {
        match ty {
            GgmlType::F32 => block.copy_from_slice(&moderate(rng).to_le_bytes()),
            GgmlType::F16 => put_f16(block, 0, moderate(rng)),
            GgmlType::BF16 => block.copy_from_slice(&half::bf16::from_f32(moderate(rng)).to_le_bytes()),
            _ => {
                for b in block.iter_mut() {
                    *b = rng.next_u64() as u8;
                }
                for &at in f16_fields(ty) {
                    put_f16(block, at, moderate(rng));
                }
                if ty == GgmlType::Q8_K {
                    block[..4].copy_from_slice(&moderate(rng).to_le_bytes());
                }
            }
        }
    }
    out
}
