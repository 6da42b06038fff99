//! ggml's block layouts (ggml-common.h), byte for byte.
//!
//! Every field is a byte array, so every block has alignment 1: a block can be
//! viewed in place from any byte offset of a memory map (GGUF only promises the
//! file's `general.alignment`, which may be 1) with `bytemuck::cast_slice`,
//! which then only fails on a length that is not a whole number of blocks —
//! and callers check that first. Half-precision scales are stored as their raw
//! little-endian bits and read with [`f16_le`].

use bytemuck::{Pod, Zeroable};

/// Elements per block of the `_0`/`_1` formats.
pub const QK: usize = 32;
/// Elements per super-block of the K-quants.
pub const QK_K: usize = 256;
/// Bytes of packed 6-bit scales and mins in Q4_K and Q5_K.
pub const K_SCALE_SIZE: usize = 12;

/// The f32 value of little-endian IEEE half bits (exact: every f16 is an f32).
#[inline(always)]
pub fn f16_le(b: [u8; 2]) -> f32 {
    half::f16::from_bits(u16::from_le_bytes(b)).to_f32()
}

/// The f32 value of little-endian bfloat16 bits (exact: the high half of an f32).
#[inline(always)]
pub fn bf16_le(b: [u8; 2]) -> f32 {
    f32::from_bits((u16::from_le_bytes(b) as u32) << 16)
}

/// 4-bit quants with one scale: x = d * (q - 8).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ4_0 {
    pub d: [u8; 2],
    pub qs: [u8; QK / 2],
}

/// 4-bit quants with scale and min: x = d * q + m.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ4_1 {
    pub d: [u8; 2],
    pub m: [u8; 2],
    pub qs: [u8; QK / 2],
}

/// 5-bit quants (fifth bits packed in `qh`): x = d * (q - 16).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ5_0 {
    pub d: [u8; 2],
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}

/// 5-bit quants with scale and min: x = d * q + m.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ5_1 {
    pub d: [u8; 2],
    pub m: [u8; 2],
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}

/// 8-bit quants: x = d * q.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ8_0 {
    pub d: [u8; 2],
    pub qs: [i8; QK],
}

/// 8-bit quants with the precomputed `s = d * Σq` (an activation format in ggml).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ8_1 {
    pub d: [u8; 2],
    pub s: [u8; 2],
    pub qs: [i8; QK],
}

/// 2-bit K-quant: 16 sub-blocks of 16 with 4-bit scales and mins.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ2K {
    pub scales: [u8; QK_K / 16],
    pub qs: [u8; QK_K / 4],
    pub d: [u8; 2],
    pub dmin: [u8; 2],
}

/// 3-bit K-quant: 16 sub-blocks of 16 with 6-bit signed scales.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ3K {
    pub hmask: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 4],
    pub scales: [u8; 12],
    pub d: [u8; 2],
}

/// 4-bit K-quant: 8 sub-blocks of 32 with 6-bit scales and mins.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ4K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; K_SCALE_SIZE],
    pub qs: [u8; QK_K / 2],
}

/// 5-bit K-quant: like Q4_K plus one high bit per element in `qh`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ5K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; K_SCALE_SIZE],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}

/// 6-bit K-quant: 16 sub-blocks of 16 with 8-bit signed scales.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [i8; QK_K / 16],
    pub d: [u8; 2],
}

/// 8-bit K-quant with an f32 scale and 16 partial sums (an activation format in ggml).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ8K {
    pub d: [u8; 4],
    pub qs: [i8; QK_K],
    pub bsums: [u8; 2 * QK_K / 16],
}

// The sizes ggml-common.h asserts (ggml_half = 2 bytes), and alignment 1 so
// that `cast_slice` accepts any offset.
macro_rules! assert_block {
    ($t:ty, $size:expr) => {
        const _: () = assert!(std::mem::size_of::<$t>() == $size, concat!("wrong size of ", stringify!($t)));
        const _: () = assert!(std::mem::align_of::<$t>() == 1, concat!("alignment of ", stringify!($t), " must be 1"));
    };
}
assert_block!(BlockQ4_0, 2 + QK / 2);
assert_block!(BlockQ4_1, 2 * 2 + QK / 2);
assert_block!(BlockQ5_0, 2 + 4 + QK / 2);
assert_block!(BlockQ5_1, 2 * 2 + 4 + QK / 2);
assert_block!(BlockQ8_0, 2 + QK);
assert_block!(BlockQ8_1, 2 * 2 + QK);
assert_block!(BlockQ2K, 2 * 2 + QK_K / 16 + QK_K / 4);
assert_block!(BlockQ3K, 2 + QK_K / 4 + QK_K / 8 + 12);
assert_block!(BlockQ4K, 2 * 2 + K_SCALE_SIZE + QK_K / 2);
assert_block!(BlockQ5K, 2 * 2 + K_SCALE_SIZE + QK_K / 2 + QK_K / 8);
assert_block!(BlockQ6K, 2 + QK_K / 16 + 3 * QK_K / 4);
assert_block!(BlockQ8K, 4 + QK_K + 2 * QK_K / 16);

/// The 6-bit scale and min of sub-block `j` (0..8) of Q4_K/Q5_K (ggml's `get_scale_min_k4`).
#[inline(always)]
pub fn scale_min_k4(j: usize, q: &[u8; K_SCALE_SIZE]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// The 16 signed 6-bit scales of a Q3_K block, unpacked as ggml's dequantize_row_q3_K does
/// (still biased by 32).
#[inline(always)]
pub fn q3k_scales(packed: &[u8; 12]) -> [i8; 16] {
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    let a0 = u32::from_le_bytes([packed[0], packed[1], packed[2], packed[3]]);
    let a1 = u32::from_le_bytes([packed[4], packed[5], packed[6], packed[7]]);
    let tmp = u32::from_le_bytes([packed[8], packed[9], packed[10], packed[11]]);
    let aux = [
        (a0 & KMASK2) | ((tmp & KMASK1) << 4),
        (a1 & KMASK2) | (((tmp >> 2) & KMASK1) << 4),
        ((a0 >> 4) & KMASK2) | (((tmp >> 4) & KMASK1) << 4),
        ((a1 >> 4) & KMASK2) | (((tmp >> 6) & KMASK1) << 4),
    ];
    let mut out = [0i8; 16];
    for (i, w) in aux.iter().enumerate() {
        for (k, b) in w.to_le_bytes().iter().enumerate() {
            out[4 * i + k] = *b as i8;
        }
    }
    out
}
