//! Scalar reference dequantisers: ports of ggml's `dequantize_row_*`
//! (ggml-quants.c) that perform the same float operations in the same order,
//! so their results are bit-identical to ggml's. Rust never contracts `a*b+c`
//! into a fused multiply-add, so each product and sum is rounded as in C.
//!
//! Callers pass whole blocks (`src.len() == n * block_bytes`,
//! `dst.len() == n * block_size`); `super::dequantize_reference` checks that.

use super::blocks::*;
use super::GgmlType;

/// Dequantises whole blocks of `ty` from `src` into `dst`.
pub(crate) fn dequantize_blocks(ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    match ty {
        GgmlType::F32 => {
            for (o, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        GgmlType::F16 => {
            for (o, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *o = f16_le([b[0], b[1]]);
            }
        }
        GgmlType::BF16 => {
            for (o, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *o = bf16_le([b[0], b[1]]);
            }
        }
        GgmlType::Q4_0 => per_block(src, dst, q4_0),
        GgmlType::Q4_1 => per_block(src, dst, q4_1),
        GgmlType::Q5_0 => per_block(src, dst, q5_0),
        GgmlType::Q5_1 => per_block(src, dst, q5_1),
        GgmlType::Q8_0 => per_block(src, dst, q8_0),
        GgmlType::Q8_1 => per_block(src, dst, q8_1),
        GgmlType::Q2_K => per_block(src, dst, q2_k),
        GgmlType::Q3_K => per_block(src, dst, q3_k),
        GgmlType::Q4_K => per_block(src, dst, q4_k),
        GgmlType::Q5_K => per_block(src, dst, q5_k),
        GgmlType::Q6_K => per_block(src, dst, q6_k),
        GgmlType::Q8_K => per_block(src, dst, q8_k),
    }
}

/// Runs `f` on each block and its slice of `dst`.
#[inline(always)]
fn per_block<B: bytemuck::Pod, const N: usize>(src: &[u8], dst: &mut [f32], f: fn(&B, &mut [f32; N])) {
    let blocks: &[B] = bytemuck::cast_slice(src);
    for (b, y) in blocks.iter().zip(dst.chunks_exact_mut(N)) {
        f(b, y.try_into().expect("chunks_exact gives N elements"));
    }
}

pub(crate) fn q4_0(x: &BlockQ4_0, y: &mut [f32; QK]) {
    let d = f16_le(x.d);
    for j in 0..QK / 2 {
        let x0 = (x.qs[j] & 0x0F) as i32 - 8;
        let x1 = (x.qs[j] >> 4) as i32 - 8;
        y[j] = x0 as f32 * d;
        y[j + QK / 2] = x1 as f32 * d;
    }
}

pub(crate) fn q4_1(x: &BlockQ4_1, y: &mut [f32; QK]) {
    let d = f16_le(x.d);
    let m = f16_le(x.m);
    for j in 0..QK / 2 {
        let x0 = (x.qs[j] & 0x0F) as i32;
        let x1 = (x.qs[j] >> 4) as i32;
        y[j] = x0 as f32 * d + m;
        y[j + QK / 2] = x1 as f32 * d + m;
    }
}

pub(crate) fn q5_0(x: &BlockQ5_0, y: &mut [f32; QK]) {
    let d = f16_le(x.d);
    let qh = u32::from_le_bytes(x.qh);
    for j in 0..QK / 2 {
        let xh_0 = (((qh >> j) << 4) & 0x10) as u8;
        let xh_1 = ((qh >> (j + 12)) & 0x10) as u8;
        let x0 = ((x.qs[j] & 0x0F) | xh_0) as i32 - 16;
        let x1 = ((x.qs[j] >> 4) | xh_1) as i32 - 16;
        y[j] = x0 as f32 * d;
        y[j + QK / 2] = x1 as f32 * d;
    }
}

pub(crate) fn q5_1(x: &BlockQ5_1, y: &mut [f32; QK]) {
    let d = f16_le(x.d);
    let m = f16_le(x.m);
    let qh = u32::from_le_bytes(x.qh);
    for j in 0..QK / 2 {
        let xh_0 = (((qh >> j) << 4) & 0x10) as u8;
        let xh_1 = ((qh >> (j + 12)) & 0x10) as u8;
        let x0 = ((x.qs[j] & 0x0F) | xh_0) as i32;
        let x1 = ((x.qs[j] >> 4) | xh_1) as i32;
        y[j] = x0 as f32 * d + m;
        y[j + QK / 2] = x1 as f32 * d + m;
    }
}

pub(crate) fn q8_0(x: &BlockQ8_0, y: &mut [f32; QK]) {
    let d = f16_le(x.d);
    for (y, &q) in y.iter_mut().zip(&x.qs) {
        *y = q as f32 * d;
    }
}

/// ggml has no `dequantize_row_q8_1` (Q8_1 only ever holds activations there);
/// this is the definition its dot products assume: x = d * q.
pub(crate) fn q8_1(x: &BlockQ8_1, y: &mut [f32; QK]) {
    let d = f16_le(x.d);
    for (y, &q) in y.iter_mut().zip(&x.qs) {
        *y = q as f32 * d;
    }
}

pub(crate) fn q2_k(x: &BlockQ2K, y: &mut [f32; QK_K]) {
    let d = f16_le(x.d);
    let min = f16_le(x.dmin);
    // ggml walks the block as: two halves of 128 (n), four 2-bit planes (j),
    // two runs of 16 (h), each with its own scale byte; `g` numbers the runs
    // in that order, which is also the order of `scales` and of the output.
    for n in 0..2 {
        let q = &x.qs[32 * n..32 * n + 32];
        for j in 0..4 {
            let shift = 2 * j;
            for h in 0..2 {
                let g = 8 * n + 2 * j + h;
                let sc = x.scales[g];
                let dl = d * (sc & 0xF) as f32;
                let ml = min * (sc >> 4) as f32;
                let q = &q[16 * h..16 * h + 16];
                let y = &mut y[16 * g..16 * g + 16];
                for l in 0..16 {
                    // (q >> shift) & 3 is 0..=3: through u32 rather than ggml's
                    // int8_t, the same exact float, but it vectorises.
                    y[l] = dl * ((q[l] as u32 >> shift) & 3) as f32 - ml;
                }
            }
        }
    }
}

pub(crate) fn q3_k(x: &BlockQ3K, y: &mut [f32; QK_K]) {
    let d_all = f16_le(x.d);
    let scales = q3k_scales(&x.scales);
    // Same walk as q2_k; the high bit of plane `4n + j` is bit `4n + j` of hmask.
    for n in 0..2 {
        let q = &x.qs[32 * n..32 * n + 32];
        for j in 0..4 {
            let shift = 2 * j;
            let m = 1u8 << (4 * n + j);
            for h in 0..2 {
                let g = 8 * n + 2 * j + h;
                let dl = d_all * (scales[g] as i32 - 32) as f32;
                let q = &q[16 * h..16 * h + 16];
                let hm = &x.hmask[16 * h..16 * h + 16];
                let y = &mut y[16 * g..16 * g + 16];
                for l in 0..16 {
                    let lo = ((q[l] as u32 >> shift) & 3) as i32;
                    let hi = if hm[l] & m != 0 { 0 } else { 4 };
                    y[l] = dl * (lo - hi) as f32;
                }
            }
        }
    }
}

pub(crate) fn q4_k(x: &BlockQ4K, y: &mut [f32; QK_K]) {
    let d = f16_le(x.d);
    let min = f16_le(x.dmin);
    for k in 0..QK_K / 64 {
        let q = &x.qs[32 * k..32 * k + 32];
        let (sc, m) = scale_min_k4(2 * k, &x.scales);
        let (d1, m1) = (d * sc as f32, min * m as f32);
        let (sc, m) = scale_min_k4(2 * k + 1, &x.scales);
        let (d2, m2) = (d * sc as f32, min * m as f32);
        let y = &mut y[64 * k..64 * k + 64];
        for l in 0..32 {
            y[l] = d1 * (q[l] & 0xF) as f32 - m1;
            y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

pub(crate) fn q5_k(x: &BlockQ5K, y: &mut [f32; QK_K]) {
    let d = f16_le(x.d);
    let min = f16_le(x.dmin);
    let (mut u1, mut u2) = (1u8, 2u8);
    for k in 0..QK_K / 64 {
        let ql = &x.qs[32 * k..32 * k + 32];
        let (sc, m) = scale_min_k4(2 * k, &x.scales);
        let (d1, m1) = (d * sc as f32, min * m as f32);
        let (sc, m) = scale_min_k4(2 * k + 1, &x.scales);
        let (d2, m2) = (d * sc as f32, min * m as f32);
        let y = &mut y[64 * k..64 * k + 64];
        for l in 0..32 {
            let h1 = if x.qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if x.qh[l] & u2 != 0 { 16 } else { 0 };
            y[l] = d1 * ((ql[l] & 0xF) + h1) as f32 - m1;
            y[l + 32] = d2 * ((ql[l] >> 4) + h2) as f32 - m2;
        }
        u1 <<= 2;
        u2 <<= 2;
    }
}

pub(crate) fn q6_k(x: &BlockQ6K, y: &mut [f32; QK_K]) {
    let d = f16_le(x.d);
    for n in 0..QK_K / 128 {
        let ql = &x.ql[64 * n..64 * n + 64];
        let qh = &x.qh[32 * n..32 * n + 32];
        let sc = &x.scales[8 * n..8 * n + 8];
        let y = &mut y[128 * n..128 * n + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i8 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
            y[l] = d * sc[is] as f32 * q1 as f32;
            y[l + 32] = d * sc[is + 2] as f32 * q2 as f32;
            y[l + 64] = d * sc[is + 4] as f32 * q3 as f32;
            y[l + 96] = d * sc[is + 6] as f32 * q4 as f32;
        }
    }
}

pub(crate) fn q8_k(x: &BlockQ8K, y: &mut [f32; QK_K]) {
    let d = f32::from_le_bytes(x.d);
    for (y, &q) in y.iter_mut().zip(&x.qs) {
        *y = d * q as f32;
    }
}

/// Σ dequant(row)[i] * x[i] over `n_blocks` whole blocks, accumulated in f32
/// strictly in index order: the definition the fast kernels are tested against.
pub(crate) fn dot_blocks(ty: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    let bs = ty.block_size();
    let bb = ty.block_bytes();
    // Dequantise a few blocks at a time into a stack buffer.
    let per_chunk = (256 / bs).max(1);
    let mut buf = [0f32; 256];
    let mut sum = 0f32;
    for (src, xs) in row.chunks(per_chunk * bb).zip(x.chunks(per_chunk * bs)) {
        let n = src.len() / bb * bs;
        dequantize_blocks(ty, src, &mut buf[..n]);
        for (w, v) in buf[..n].iter().zip(xs) {
            sum += w * v;
        }
    }
    sum
}
