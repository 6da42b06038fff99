//! The portable fast path (no explicit SIMD): dequantise a few blocks into a
//! stack buffer with the reference code, then accumulate the products in
//! eight independent lanes, which compilers vectorise and pipeline well.

use super::reference;
use super::GgmlType;

/// Σ w[i] * x[i] for whole blocks (`row` and `x` already trimmed to match).
pub(crate) fn dot_blocks(ty: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    let bs = ty.block_size();
    let bb = ty.block_bytes();
    let per_chunk = (256 / bs).max(1);
    let mut buf = [0f32; 256];
    let mut acc = [0f32; 8];
    let mut tail = 0f32;
    for (src, xs) in row.chunks(per_chunk * bb).zip(x.chunks(per_chunk * bs)) {
        let n = src.len() / bb * bs;
        reference::dequantize_blocks(ty, src, &mut buf[..n]);
        let mut w8 = buf[..n].chunks_exact(8);
        let mut x8 = xs.chunks_exact(8);
        for (w, v) in (&mut w8).zip(&mut x8) {
            for k in 0..8 {
                acc[k] += w[k] * v[k];
            }
        }
        for (w, v) in w8.remainder().iter().zip(x8.remainder()) {
            tail += w * v;
        }
    }
    acc.iter().sum::<f32>() + tail
}
