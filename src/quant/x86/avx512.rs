//! AVX-512 (F + BW + VL, with FMA and F16C) kernels.
//!
//! Each format has one *decoder* that turns a block into exact f32 weights,
//! 16 lanes at a time, and hands each vector to an `emit(offset, weights)`
//! closure; the same decoder feeds both `dequantize` (emit = store) and `dot`
//! (emit = fused multiply-add with `x`), so the two can never disagree.
//!
//! Exactness: every weight is produced by the same IEEE operations, in the same
//! order, as ggml's scalar `dequantize_row_*` (see `reference.rs`): a product
//! `d * q` is one rounded multiply, `d * q - m` a rounded multiply then a
//! rounded subtract (never an FMA). For 4- and 5-bit formats the 16 or 32
//! possible weights of a (sub-)block are computed once into a table with those
//! operations and looked up with `vpermps`/`vpermt2ps`, which moves bits and
//! does no arithmetic; that saves the int→float conversion per element.
//!
//! Safety contract of every `pub unsafe fn` here: the CPU supports the features
//! named in `target_feature`; `src`/`row` hold whole blocks; `dst` holds exactly
//! (and `x` at least) `blocks * block_size` elements.

use crate::quant::blocks::*;
use crate::quant::reference;
use std::arch::x86_64::*;

/// Lane values 0..15 as f32, the index of a 16-entry table.
const IOTA: [f32; 16] = [0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.];

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
fn iota() -> __m512 {
    // SAFETY: IOTA is 16 f32.
    unsafe { _mm512_loadu_ps(IOTA.as_ptr()) }
}

/// 16 bytes at `p` zero-extended to 16 u32 lanes.
///
/// # Safety
/// `p` is valid for reads of 16 bytes; the CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn u8x16_to_u32(p: *const u8) -> __m512i {
    _mm512_cvtepu8_epi32(_mm_loadu_si128(p as *const __m128i))
}

/// 16 bytes at `p` sign-extended and converted to f32 (exact).
///
/// # Safety
/// `p` is valid for reads of 16 bytes; the CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn i8x16_to_f32(p: *const i8) -> __m512 {
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p as *const __m128i)))
}

/// Table lookup: lane i gets `t[idx[i] & 15]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
fn lut16(idx: __m512i, t: __m512) -> __m512 {
    _mm512_permutexvar_ps(idx, t)
}

/// Table lookup: lane i gets `[lo, hi][idx[i] & 31]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
fn lut32(idx: __m512i, lo: __m512, hi: __m512) -> __m512 {
    _mm512_permutex2var_ps(lo, idx, hi)
}

// ------------------------------------------------------------------ scales
//
// Scales are converted for a chunk of blocks at a time, by a pass the
// compiler cannot see into (`inline(never)`), into a small stack array. The
// decoders then read each scale from memory, which the compiler folds into
// the arithmetic as an embedded broadcast (`vmulps zmm, zmm, [mem]{1to16}`):
// converting and broadcasting each f16 scale in registers cost more vector
// micro-ops than the rest of a Q8_0 block, and vector ports, not memory, were
// the bottleneck.

/// Blocks per chunk of the 32-element formats.
const CHUNK: usize = 64;
/// Blocks per chunk of the K-quants.
const CHUNK_K: usize = 16;

/// The f32 values of the f16 at byte `at` of each block (at most CHUNK blocks).
///
/// # Safety
/// `blocks.len() ≤ CHUNK` and `at + 2 ≤ size_of::<B>()` (only checked in debug
/// builds); the CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn halves<B: bytemuck::Pod>(blocks: &[B], at: usize, out: &mut [f32; CHUNK]) {
    let mut h = [0u16; CHUNK];
    // Raw unaligned reads: this loop runs once per block, and bounds-checked
    // byte indexing made it a fifth of a whole matrix-vector product.
    debug_assert!(blocks.len() <= CHUNK && at + 2 <= std::mem::size_of::<B>());
    let base = blocks.as_ptr() as *const u8;
    let n = blocks.len().min(CHUNK);
    for (i, hv) in h.iter_mut().enumerate().take(n) {
        *hv = u16::from_le(std::ptr::read_unaligned(base.add(i * std::mem::size_of::<B>() + at) as *const u16));
    }
    for k in 0..blocks.len().div_ceil(16) {
        let v = _mm512_cvtph_ps(_mm256_loadu_si256(h.as_ptr().add(16 * k) as *const __m256i));
        _mm512_storeu_ps(out.as_mut_ptr().add(16 * k), v);
    }
}

/// Scale and min of the `_1` formats.
struct ScaleMin {
    d: [f32; CHUNK],
    m: [f32; CHUNK],
}

impl ScaleMin {
    fn new() -> Self {
        ScaleMin { d: [0.0; CHUNK], m: [0.0; CHUNK] }
    }
}

/// For each Q4_K/Q5_K block (same first 16 bytes: d, dmin, 12 bytes of packed
/// 6-bit scales and mins): `d * sc_j` in lanes 0..8 and `dmin * m_j` in 8..16,
/// ggml's `d1`/`m1`... with the same single rounding.
///
/// # Safety
/// `blocks.len() ≤ CHUNK` (for `halves`; more than CHUNK_K panics on `out`); the CPU supports
/// AVX-512 F, BW and VL, FMA and F16C.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn k4_pass<B: bytemuck::Pod>(blocks: &[B], out: &mut [[f32; 16]; CHUNK_K]) {
    let mut d = [0f32; CHUNK];
    let mut dmin = [0f32; CHUNK];
    halves(blocks, 0, &mut d);
    halves(blocks, 2, &mut dmin);
    for (i, b) in blocks.iter().enumerate() {
        let q = &bytemuck::bytes_of(b)[4..16];
        let word = |k: usize| u32::from_le_bytes([q[4 * k], q[4 * k + 1], q[4 * k + 2], q[4 * k + 3]]);
        let (a0, a1, a2) = (word(0), word(1), word(2));
        // Bytes 0..8: scales of sub-blocks 0..8; bytes 8..16: their mins (see `scale_min_k4`).
        let packed: [u32; 4] = [
            a0 & 0x3f3f_3f3f,
            (a2 & 0x0f0f_0f0f) | (((a0 >> 6) & 0x0303_0303) << 4),
            a1 & 0x3f3f_3f3f,
            ((a2 >> 4) & 0x0f0f_0f0f) | (((a1 >> 6) & 0x0303_0303) << 4),
        ];
        let v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(packed.as_ptr() as *const __m128i)));
        let scaled = _mm512_mask_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(d[i])), 0xFF00, v, _mm512_set1_ps(dmin[i]));
        _mm512_storeu_ps(out[i].as_mut_ptr(), scaled);
    }
}

/// For each Q6_K block: the 16 sub-block scales `d * sc` (ggml's `d * sc[is]`).
///
/// # Safety
/// `blocks.len() ≤ CHUNK` (for `halves`; more than CHUNK_K panics on `out`); the CPU supports
/// AVX-512 F, BW and VL, FMA and F16C.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q6k_pass(blocks: &[BlockQ6K], out: &mut [[f32; 16]; CHUNK_K]) {
    let mut d = [0f32; CHUNK];
    halves(blocks, 208, &mut d);
    for (i, b) in blocks.iter().enumerate() {
        _mm512_storeu_ps(out[i].as_mut_ptr(), _mm512_mul_ps(_mm512_set1_ps(d[i]), i8x16_to_f32(b.scales.as_ptr())));
    }
}

// ---------------------------------------------------------------- decoders

/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C. (Every decoder below has this contract;
/// each reads only its block and calls `emit(off, v)` with `off + 16 ≤` its size.)
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q8_0<E: FnMut(usize, __m512)>(b: &BlockQ8_0, d: &f32, mut emit: E) {
    let p = b.qs.as_ptr();
    emit(0, _mm512_mul_ps(i8x16_to_f32(p), _mm512_set1_ps(*d)));
    emit(16, _mm512_mul_ps(i8x16_to_f32(p.add(16)), _mm512_set1_ps(*d)));
}

/// Q8_1 is Q8_0 with a precomputed sum beside the scale: x = d * q.
///
/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q8_1<E: FnMut(usize, __m512)>(b: &BlockQ8_1, d: &f32, mut emit: E) {
    let p = b.qs.as_ptr();
    emit(0, _mm512_mul_ps(i8x16_to_f32(p), _mm512_set1_ps(*d)));
    emit(16, _mm512_mul_ps(i8x16_to_f32(p.add(16)), _mm512_set1_ps(*d)));
}

/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q4_0<E: FnMut(usize, __m512)>(b: &BlockQ4_0, d: &f32, mut emit: E) {
    // t[q] = (q - 8) * d, as ggml's `x0 * d` with x0 = q - 8.
    let t = _mm512_mul_ps(_mm512_sub_ps(iota(), _mm512_set1_ps(8.0)), _mm512_set1_ps(*d));
    let v = u8x16_to_u32(b.qs.as_ptr());
    emit(0, lut16(v, t));
    emit(16, lut16(_mm512_srli_epi32::<4>(v), t));
}

/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q4_1<E: FnMut(usize, __m512)>(b: &BlockQ4_1, d: &f32, m: &f32, mut emit: E) {
    // t[q] = q * d + m
    let t = _mm512_add_ps(_mm512_mul_ps(iota(), _mm512_set1_ps(*d)), _mm512_set1_ps(*m));
    let v = u8x16_to_u32(b.qs.as_ptr());
    emit(0, lut16(v, t));
    emit(16, lut16(_mm512_srli_epi32::<4>(v), t));
}

/// The 32 fifth bits of a Q5 block as two lane masks (elements 0..16, 16..32).
///
/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q5_masks(qh: &[u8; 4]) -> (__mmask16, __mmask16) {
    (u16::from_le_bytes([qh[0], qh[1]]), u16::from_le_bytes([qh[2], qh[3]]))
}

/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q5_0<E: FnMut(usize, __m512)>(b: &BlockQ5_0, d: &f32, mut emit: E) {
    // t[q] = (q - 16) * d for q in 0..32, split in two 16-entry halves.
    let lo = _mm512_mul_ps(_mm512_sub_ps(iota(), _mm512_set1_ps(16.0)), _mm512_set1_ps(*d));
    let hi = _mm512_mul_ps(iota(), _mm512_set1_ps(*d));
    let (k0, k1) = q5_masks(&b.qh);
    let v = u8x16_to_u32(b.qs.as_ptr());
    let sixteen = _mm512_set1_epi32(16);
    let lo_idx = _mm512_and_si512(v, _mm512_set1_epi32(15));
    let hi_idx = _mm512_srli_epi32::<4>(v);
    emit(0, lut32(_mm512_mask_or_epi32(lo_idx, k0, lo_idx, sixteen), lo, hi));
    emit(16, lut32(_mm512_mask_or_epi32(hi_idx, k1, hi_idx, sixteen), lo, hi));
}

/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q5_1<E: FnMut(usize, __m512)>(b: &BlockQ5_1, d: &f32, m: &f32, mut emit: E) {
    // t[q] = q * d + m for q in 0..32
    let lo = _mm512_add_ps(_mm512_mul_ps(iota(), _mm512_set1_ps(*d)), _mm512_set1_ps(*m));
    let hi = _mm512_add_ps(_mm512_mul_ps(_mm512_add_ps(iota(), _mm512_set1_ps(16.0)), _mm512_set1_ps(*d)), _mm512_set1_ps(*m));
    let (k0, k1) = q5_masks(&b.qh);
    let v = u8x16_to_u32(b.qs.as_ptr());
    let sixteen = _mm512_set1_epi32(16);
    let lo_idx = _mm512_and_si512(v, _mm512_set1_epi32(15));
    let hi_idx = _mm512_srli_epi32::<4>(v);
    emit(0, lut32(_mm512_mask_or_epi32(lo_idx, k0, lo_idx, sixteen), lo, hi));
    emit(16, lut32(_mm512_mask_or_epi32(hi_idx, k1, hi_idx, sixteen), lo, hi));
}

/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q4_k<E: FnMut(usize, __m512)>(b: &BlockQ4K, s: &[f32; 16], mut emit: E) {
    for k in 0..4 {
        // t[q] = d_j * q - m_j, as ggml's `d1 * (q & 0xF) - m1`.
        let t1 = _mm512_sub_ps(_mm512_mul_ps(iota(), _mm512_set1_ps(s[2 * k])), _mm512_set1_ps(s[8 + 2 * k]));
        let t2 = _mm512_sub_ps(_mm512_mul_ps(iota(), _mm512_set1_ps(s[2 * k + 1])), _mm512_set1_ps(s[9 + 2 * k]));
        let q = b.qs.as_ptr().add(32 * k);
        let v0 = u8x16_to_u32(q);
        let v1 = u8x16_to_u32(q.add(16));
        emit(64 * k, lut16(v0, t1));
        emit(64 * k + 16, lut16(v1, t1));
        emit(64 * k + 32, lut16(_mm512_srli_epi32::<4>(v0), t2));
        emit(64 * k + 48, lut16(_mm512_srli_epi32::<4>(v1), t2));
    }
}

/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q5_k<E: FnMut(usize, __m512)>(b: &BlockQ5K, s: &[f32; 16], mut emit: E) {
    // qh byte l holds the high bits of element l of each of the 8 sub-blocks
    // (bit j for sub-block j); shifted up by 4 so that `>> j` puts it at bit 4.
    let h0 = _mm512_slli_epi32::<4>(u8x16_to_u32(b.qh.as_ptr()));
    let h1 = _mm512_slli_epi32::<4>(u8x16_to_u32(b.qh.as_ptr().add(16)));
    let sixteen = _mm512_set1_ps(16.0);
    // idx = (nibble bits 0..3) | (shifted qh bit 4): a bit select with mask 15.
    let sel = |nib: __m512i, h: __m512i, j: usize| {
        _mm512_ternarylogic_epi32::<0xE4>(nib, _mm512_srl_epi32(h, _mm_cvtsi32_si128(j as i32)), _mm512_set1_epi32(15))
    };
    for k in 0..4 {
        let (j1, j2) = (2 * k, 2 * k + 1);
        // t[q] = d_j * q - m_j for q in 0..32 (q = nibble + 16 * high bit).
        let t = |j: usize, base: __m512| _mm512_sub_ps(_mm512_mul_ps(base, _mm512_set1_ps(s[j])), _mm512_set1_ps(s[8 + j]));
        let (t1l, t1h) = (t(j1, iota()), t(j1, _mm512_add_ps(iota(), sixteen)));
        let (t2l, t2h) = (t(j2, iota()), t(j2, _mm512_add_ps(iota(), sixteen)));
        let q = b.qs.as_ptr().add(32 * k);
        let v0 = u8x16_to_u32(q);
        let v1 = u8x16_to_u32(q.add(16));
        emit(64 * k, lut32(sel(v0, h0, j1), t1l, t1h));
        emit(64 * k + 16, lut32(sel(v1, h1, j1), t1l, t1h));
        emit(64 * k + 32, lut32(sel(_mm512_srli_epi32::<4>(v0), h0, j2), t2l, t2h));
        emit(64 * k + 48, lut32(sel(_mm512_srli_epi32::<4>(v1), h1, j2), t2l, t2h));
    }
}

/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q6_k<E: FnMut(usize, __m512)>(b: &BlockQ6K, scale: &[f32; 16], mut emit: E) {
    let m4 = _mm512_set1_epi8(0x0F);
    let m30 = _mm512_set1_epi8(0x30);
    let bias = _mm512_set1_epi8(32);
    let mut q = [0i8; 128];
    for n in 0..2 {
        // Rebuild the 6-bit values of 128 elements as bytes (q - 32), in element order:
        // bytes 0..64 from the low nibbles of ql with qh bits 0-1 / 2-3,
        // bytes 64..128 from the high nibbles with qh bits 4-5 / 6-7.
        let ql = _mm512_loadu_si512(b.ql.as_ptr().add(64 * n) as *const _);
        let qh = _mm256_loadu_si256(b.qh.as_ptr().add(32 * n) as *const __m256i);
        let qh_lo = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(_mm256_slli_epi16::<4>(qh)), _mm256_slli_epi16::<2>(qh));
        let qh_hi = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(qh), _mm256_srli_epi16::<2>(qh));
        let a = _mm512_ternarylogic_epi32::<0xE4>(ql, qh_lo, m4);
        let c = _mm512_ternarylogic_epi32::<0xE4>(_mm512_srli_epi16::<4>(ql), qh_hi, m4);
        let a = _mm512_sub_epi8(_mm512_and_si512(a, _mm512_or_si512(m4, m30)), bias);
        let c = _mm512_sub_epi8(_mm512_and_si512(c, _mm512_or_si512(m4, m30)), bias);
        _mm512_storeu_si512(q.as_mut_ptr() as *mut _, a);
        _mm512_storeu_si512(q.as_mut_ptr().add(64) as *mut _, c);
        for g in 0..8 {
            emit(128 * n + 16 * g, _mm512_mul_ps(_mm512_set1_ps(scale[8 * n + g]), i8x16_to_f32(q.as_ptr().add(16 * g))));
        }
    }
}

/// Formats without a dedicated decoder: the scalar reference into a stack
/// buffer, then vectors from it.
///
/// # Safety
/// `N` is a multiple of 16 (the buffer is read 16 values at a time); the CPU supports AVX-512
/// F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn via_reference<B, const N: usize, E: FnMut(usize, __m512)>(b: &B, f: fn(&B, &mut [f32; N]), mut emit: E) {
    let mut buf = [0f32; N];
    f(b, &mut buf);
    for off in (0..N).step_by(16) {
        emit(off, _mm512_loadu_ps(buf.as_ptr().add(off)));
    }
}

/// Formats whose AVX2 decoder is good enough: its 8-lane vectors, paired.
///
/// # Safety
/// The CPU supports AVX-512 F, BW and VL, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn via_avx2<E: FnMut(usize, __m512)>(decode: impl FnOnce(&mut [f32; QK_K]), mut emit: E) {
    let mut buf = [0f32; QK_K];
    decode(&mut buf);
    for off in (0..QK_K).step_by(16) {
        emit(off, _mm512_loadu_ps(buf.as_ptr().add(off)));
    }
}

// ----------------------------------------------------------------- drivers

/// How far ahead of the weights being read `dot` prefetches, in bytes. The
/// hardware prefetchers alone left a Q8_0 matrix-vector product streaming from
/// DRAM at ~60% of the F32 streaming rate; 2 KiB ahead (measured: 512 B too
/// little, 4 KiB no better) brings it level. Prefetching past the end of a row
/// is harmless (a hint, never a fault) and useful: the next row usually follows.
const PREFETCH: usize = 2048;

/// Prefetches the lines `PREFETCH` bytes past the start of `b`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
fn prefetch_ahead<B>(b: &B) {
    let p = (b as *const B as *const i8).wrapping_add(PREFETCH);
    for line in 0..std::mem::size_of::<B>().div_ceil(64) {
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64 * line));
    }
}

/// Sum of four accumulators' lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
fn reduce(acc: [__m512; 4]) -> f32 {
    _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
}

/// `dequantize` and `dot` over whole blocks of one format. The blocks are
/// walked in chunks of `$chunk`; `$pass(chunk, &mut $s)` prepares the chunk's
/// scales, then `$decode` runs for block `$b` (index `$j` in the chunk).
macro_rules! kernels {
    ($(dequant: $dequant:ident,)? dot: $dot:ident, $Block:ty, $n:expr, $chunk:expr, $s:ident = $init:expr, $pass:expr,
     |$b:ident, $j:ident, $emit:ident| $decode:expr) => {
        $(
        /// # Safety
        /// The CPU supports AVX-512 F, BW and VL, AVX2, FMA and F16C (the
        /// `Avx512` level); `src` is whole blocks and `dst` holds (at least)
        /// their values, blocks × block size.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
        pub unsafe fn $dequant(src: &[u8], dst: &mut [f32]) {
            let blocks: &[$Block] = bytemuck::cast_slice(src);
            debug_assert_eq!(dst.len(), blocks.len() * $n);
            let out = dst.as_mut_ptr();
            #[allow(unused_mut)]
            let mut $s = $init;
            for (c, chunk) in blocks.chunks($chunk).enumerate() {
                $pass(chunk, &mut $s);
                for ($j, $b) in chunk.iter().enumerate() {
                    let y = out.add((c * $chunk + $j) * $n);
                    let $emit = |off: usize, w: __m512| _mm512_storeu_ps(y.add(off), w);
                    $decode;
                }
            }
        }
        )?

        /// # Safety
        /// The CPU supports AVX-512 F, BW and VL, AVX2, FMA and F16C (the
        /// `Avx512` level; dot_q2_k and dot_q3_k run the AVX2 decoders); `row`
        /// is whole blocks and `x` holds at least their values.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
        pub unsafe fn $dot(row: &[u8], x: &[f32]) -> f32 {
            let blocks: &[$Block] = bytemuck::cast_slice(row);
            debug_assert!(x.len() >= blocks.len() * $n);
            // Four independent accumulators hide the FMA latency; small blocks
            // are taken in groups so that each group spans at least 64 lanes
            // and every emitted vector goes to a fixed accumulator.
            const GROUP: usize = if $n >= 64 { 1 } else { 64 / $n };
            let mut acc = [_mm512_setzero_ps(); 4];
            #[allow(unused_mut)]
            let mut $s = $init;
            for (c, chunk) in blocks.chunks($chunk).enumerate() {
                $pass(chunk, &mut $s);
                let xc = x.as_ptr().add(c * $chunk * $n);
                let groups = chunk.len() / GROUP;
                for g in 0..groups {
                    for k in 0..GROUP {
                        let $j = g * GROUP + k;
                        let $b = chunk.get_unchecked($j);
                        prefetch_ahead($b);
                        let xb = xc.add($j * $n);
                        let $emit = |off: usize, w: __m512| {
                            let a = &mut acc[((k * $n + off) / 16) % 4];
                            *a = _mm512_fmadd_ps(w, _mm512_loadu_ps(xb.add(off)), *a);
                        };
                        $decode;
                    }
                }
                for $j in groups * GROUP..chunk.len() {
                    let $b = chunk.get_unchecked($j);
                    let xb = xc.add($j * $n);
                    let $emit = |off: usize, w: __m512| {
                        let a = &mut acc[(off / 16) % 4];
                        *a = _mm512_fmadd_ps(w, _mm512_loadu_ps(xb.add(off)), *a);
                    };
                    $decode;
                }
            }
            reduce(acc)
        }
    };
}

kernels!(dequant: dequant_q8_0, dot: dot_q8_0, BlockQ8_0, QK, CHUNK, d = [0f32; CHUNK], |c, d| halves(c, 0, d),
    |b, j, emit| q8_0(b, d.get_unchecked(j), emit));
kernels!(dequant: dequant_q8_1, dot: dot_q8_1, BlockQ8_1, QK, CHUNK, d = [0f32; CHUNK], |c, d| halves(c, 0, d),
    |b, j, emit| q8_1(b, d.get_unchecked(j), emit));
kernels!(dequant: dequant_q4_0, dot: dot_q4_0, BlockQ4_0, QK, CHUNK, d = [0f32; CHUNK], |c, d| halves(c, 0, d),
    |b, j, emit| q4_0(b, d.get_unchecked(j), emit));
kernels!(dequant: dequant_q5_0, dot: dot_q5_0, BlockQ5_0, QK, CHUNK, d = [0f32; CHUNK], |c, d| halves(c, 0, d),
    |b, j, emit| q5_0(b, d.get_unchecked(j), emit));
kernels!(dequant: dequant_q4_1, dot: dot_q4_1, BlockQ4_1, QK, CHUNK, s = ScaleMin::new(),
    |c, s: &mut ScaleMin| { halves(c, 0, &mut s.d); halves(c, 2, &mut s.m) },
    |b, j, emit| q4_1(b, s.d.get_unchecked(j), s.m.get_unchecked(j), emit));
kernels!(dequant: dequant_q5_1, dot: dot_q5_1, BlockQ5_1, QK, CHUNK, s = ScaleMin::new(),
    |c, s: &mut ScaleMin| { halves(c, 0, &mut s.d); halves(c, 2, &mut s.m) },
    |b, j, emit| q5_1(b, s.d.get_unchecked(j), s.m.get_unchecked(j), emit));
kernels!(dot: dot_q4_k, BlockQ4K, QK_K, CHUNK_K, s = [[0f32; 16]; CHUNK_K], |c, s| k4_pass(c, s),
    |b, j, emit| q4_k(b, s.get_unchecked(j), emit));
kernels!(dot: dot_q5_k, BlockQ5K, QK_K, CHUNK_K, s = [[0f32; 16]; CHUNK_K], |c, s| k4_pass(c, s),
    |b, j, emit| q5_k(b, s.get_unchecked(j), emit));
kernels!(dot: dot_q6_k, BlockQ6K, QK_K, CHUNK_K, s = [[0f32; 16]; CHUNK_K], |c, s| q6k_pass(c, s),
    |b, j, emit| q6_k(b, s.get_unchecked(j), emit));
// Formats without a dedicated 16-lane decoder (dequantising them uses the AVX2
// kernels or the scalar reference: a buffer would gain nothing).
kernels!(dot: dot_q2_k, BlockQ2K, QK_K, CHUNK_K, s = (), |_, _| {}, |b, j, emit| {
    let _ = j;
    via_avx2(|buf| super::avx2::q2_k(b, |off, w| _mm256_storeu_ps(buf.as_mut_ptr().add(off), w)), emit)
});
kernels!(dot: dot_q3_k, BlockQ3K, QK_K, CHUNK_K, s = (), |_, _| {}, |b, j, emit| {
    let _ = j;
    via_avx2(|buf| super::avx2::q3_k(b, |off, w| _mm256_storeu_ps(buf.as_mut_ptr().add(off), w)), emit)
});
kernels!(dot: dot_q8_k, BlockQ8K, QK_K, CHUNK_K, s = (), |_, _| {},
    |b, j, emit| { let _ = j; via_reference(b, reference::q8_k, emit) });

// ------------------------------------------------------ plain float types

macro_rules! float_kernels {
    ($dequant:ident, $dot:ident, $bytes:expr, |$p:ident| $load:expr, |$pm:ident, $k:ident| $load_masked:expr) => {
        /// # Safety
        /// The CPU supports AVX-512 F, BW and VL, FMA and F16C; `src` holds
        /// (at least) `dst.len()` values of the element size.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
        pub unsafe fn $dequant(src: &[u8], dst: &mut [f32]) {
            let n = dst.len();
            debug_assert_eq!(src.len(), n * $bytes);
            let (s, y) = (src.as_ptr(), dst.as_mut_ptr());
            let mut i = 0;
            while i + 16 <= n {
                let $p = s.add(i * $bytes);
                _mm512_storeu_ps(y.add(i), $load);
                i += 16;
            }
            if i < n {
                let $k: __mmask16 = (1u32 << (n - i)) as u16 - 1;
                let $pm = s.add(i * $bytes);
                _mm512_mask_storeu_ps(y.add(i), $k, $load_masked);
            }
        }

        /// # Safety
        /// The CPU supports AVX-512 F, BW and VL, FMA and F16C; `x` holds at
        /// least as many values as `row` holds whole elements.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
        pub unsafe fn $dot(row: &[u8], x: &[f32]) -> f32 {
            let n = row.len() / $bytes;
            debug_assert!(x.len() >= n);
            let (s, xp) = (row.as_ptr(), x.as_ptr());
            let mut acc = [_mm512_setzero_ps(); 4];
            let mut i = 0;
            while i + 64 <= n {
                // One prefetch per 64-byte line of the 64 elements read below.
                for line in 0..$bytes {
                    _mm_prefetch::<_MM_HINT_T0>(s.wrapping_add(i * $bytes + PREFETCH + 64 * line) as *const i8);
                }
                for (u, a) in acc.iter_mut().enumerate() {
                    let $p = s.add((i + 16 * u) * $bytes);
                    *a = _mm512_fmadd_ps($load, _mm512_loadu_ps(xp.add(i + 16 * u)), *a);
                }
                i += 64;
            }
            while i + 16 <= n {
                let $p = s.add(i * $bytes);
                acc[0] = _mm512_fmadd_ps($load, _mm512_loadu_ps(xp.add(i)), acc[0]);
                i += 16;
            }
            if i < n {
                let $k: __mmask16 = (1u32 << (n - i)) as u16 - 1;
                let $pm = s.add(i * $bytes);
                acc[1] = _mm512_fmadd_ps($load_masked, _mm512_maskz_loadu_ps($k, xp.add(i)), acc[1]);
            }
            reduce(acc)
        }
    };
}

float_kernels!(dequant_f32, dot_f32, 4, |p| _mm512_loadu_ps(p as *const f32), |p, k| _mm512_maskz_loadu_ps(k, p as *const f32));
float_kernels!(dequant_f16, dot_f16, 2, |p| _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)), |p, k| _mm512_cvtph_ps(
    _mm256_maskz_loadu_epi16(k, p as *const i16)
));
float_kernels!(
    dequant_bf16,
    dot_bf16,
    2,
    |p| _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_loadu_si256(p as *const __m256i)))),
    |p, k| _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p as *const i16))))
);
