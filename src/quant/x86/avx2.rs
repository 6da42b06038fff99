//! AVX2 + FMA + F16C kernels (8 lanes).
//!
//! Same structure as `avx512.rs`: one decoder per format hands exact f32
//! weight vectors to an `emit(offset, weights)` closure shared by
//! `dequantize` (store) and `dot` (FMA with `x`). Decoders first rebuild the
//! integer quants of a block as bytes in a small stack buffer with byte-wide
//! SIMD, then widen 8 at a time to f32 and apply the scale and min with the
//! same rounded operations as ggml's reference (multiply, then add or
//! subtract; never an FMA), so the weights are bit-identical.
//!
//! Safety contract of every `pub unsafe fn` here: the CPU supports AVX2, FMA
//! and F16C; `src`/`row` hold whole blocks; `dst` holds exactly (and `x` at
//! least) `blocks * block_size` elements.

use crate::quant::blocks::*;
use crate::quant::reference;
use std::arch::x86_64::*;

/// An f16 scale broadcast to 8 lanes (a broadcast avoids the false dependency
/// on a stale register that a scalar conversion gets from the compiler).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn f16_splat(b: [u8; 2]) -> __m256 {
    _mm256_cvtph_ps(_mm_set1_epi16(i16::from_le_bytes(b)))
}

/// 8 signed bytes at `p` as f32 (exact).
///
/// # Safety
/// `p` is valid for reads of 8 bytes; the CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn i8x8(p: *const i8) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p as *const __m128i)))
}

/// 8 unsigned bytes at `p` as f32 (exact).
///
/// # Safety
/// `p` is valid for reads of 8 bytes; the CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn u8x8(p: *const u8) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(p as *const __m128i)))
}

/// The 32 nibbles of 16 bytes in ggml's `_0`/`_1` order: low nibbles
/// (elements 0..16), then high nibbles (elements 16..32).
///
/// # Safety
/// `qs` is valid for reads of 16 bytes; the CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn nibbles32(qs: *const u8) -> __m256i {
    let q = _mm_loadu_si128(qs as *const __m128i);
    let m = _mm_set1_epi8(0x0F);
    _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16::<4>(q), m), _mm_and_si128(q, m))
}

/// Byte i is 0xFF where bit i of `bits` is set, 0 elsewhere.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn bits_to_bytes(bits: u32) -> __m256i {
    // Byte i takes byte i/8 of `bits`, then tests its own bit i%8.
    let spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(bits as i32),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0),
    );
    let bit = _mm256_set1_epi64x(0x8040201008040201u64 as i64);
    _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit)
}

// ---------------------------------------------------------------- decoders

/// # Safety
/// The CPU supports AVX2, FMA and F16C. (Every decoder below has this contract; each
/// reads only its block and calls `emit(off, v)` with `off + 8 ≤` its size.)
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q8_0<E: FnMut(usize, __m256)>(b: &BlockQ8_0, mut emit: E) {
    let d = f16_splat(b.d);
    for g in 0..4 {
        emit(8 * g, _mm256_mul_ps(i8x8(b.qs.as_ptr().add(8 * g)), d));
    }
}

/// Q8_1 is Q8_0 with a precomputed sum beside the scale: x = d * q.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q8_1<E: FnMut(usize, __m256)>(b: &BlockQ8_1, mut emit: E) {
    let d = f16_splat(b.d);
    for g in 0..4 {
        emit(8 * g, _mm256_mul_ps(i8x8(b.qs.as_ptr().add(8 * g)), d));
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4_0<E: FnMut(usize, __m256)>(b: &BlockQ4_0, mut emit: E) {
    let d = f16_splat(b.d);
    let mut q = [0i8; 32];
    _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, _mm256_sub_epi8(nibbles32(b.qs.as_ptr()), _mm256_set1_epi8(8)));
    for g in 0..4 {
        emit(8 * g, _mm256_mul_ps(i8x8(q.as_ptr().add(8 * g)), d));
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4_1<E: FnMut(usize, __m256)>(b: &BlockQ4_1, mut emit: E) {
    let d = f16_splat(b.d);
    let m = f16_splat(b.m);
    let mut q = [0u8; 32];
    _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, nibbles32(b.qs.as_ptr()));
    for g in 0..4 {
        emit(8 * g, _mm256_add_ps(_mm256_mul_ps(u8x8(q.as_ptr().add(8 * g)), d), m));
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q5_0<E: FnMut(usize, __m256)>(b: &BlockQ5_0, mut emit: E) {
    let d = f16_splat(b.d);
    let high = _mm256_and_si256(bits_to_bytes(u32::from_le_bytes(b.qh)), _mm256_set1_epi8(0x10));
    let v = _mm256_sub_epi8(_mm256_or_si256(nibbles32(b.qs.as_ptr()), high), _mm256_set1_epi8(16));
    let mut q = [0i8; 32];
    _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, v);
    for g in 0..4 {
        emit(8 * g, _mm256_mul_ps(i8x8(q.as_ptr().add(8 * g)), d));
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q5_1<E: FnMut(usize, __m256)>(b: &BlockQ5_1, mut emit: E) {
    let d = f16_splat(b.d);
    let m = f16_splat(b.m);
    let high = _mm256_and_si256(bits_to_bytes(u32::from_le_bytes(b.qh)), _mm256_set1_epi8(0x10));
    let mut q = [0u8; 32];
    _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, _mm256_or_si256(nibbles32(b.qs.as_ptr()), high));
    for g in 0..4 {
        emit(8 * g, _mm256_add_ps(_mm256_mul_ps(u8x8(q.as_ptr().add(8 * g)), d), m));
    }
}

/// The 8 (scale, min) pairs of a Q4_K/Q5_K block as f32 `d * sc` and
/// `dmin * m` (ggml's `d1`, `m1`...), computed 8 at a time.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn k4_scales(d: [u8; 2], dmin: [u8; 2], scales: &[u8; K_SCALE_SIZE]) -> ([f32; 8], [f32; 8]) {
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..8 {
        (sc[j], mn[j]) = scale_min_k4(j, scales);
    }
    let mut ds = [0f32; 8];
    let mut ms = [0f32; 8];
    _mm256_storeu_ps(ds.as_mut_ptr(), _mm256_mul_ps(f16_splat(d), u8x8(sc.as_ptr())));
    _mm256_storeu_ps(ms.as_mut_ptr(), _mm256_mul_ps(f16_splat(dmin), u8x8(mn.as_ptr())));
    (ds, ms)
}

/// Emits 64 weights `d_j * q - m_j` of sub-blocks j = 2k, 2k+1 from their 64 quant bytes.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn k_pair<E: FnMut(usize, __m256)>(q: &[u8; 64], k: usize, ds: &[f32; 8], ms: &[f32; 8], emit: &mut E) {
    for h in 0..2 {
        let d = _mm256_set1_ps(ds[2 * k + h]);
        let m = _mm256_set1_ps(ms[2 * k + h]);
        for g in 0..4 {
            let off = 32 * h + 8 * g;
            emit(64 * k + off, _mm256_sub_ps(_mm256_mul_ps(d, u8x8(q.as_ptr().add(off))), m));
        }
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4_k<E: FnMut(usize, __m256)>(b: &BlockQ4K, mut emit: E) {
    let (ds, ms) = k4_scales(b.d, b.dmin, &b.scales);
    let m4 = _mm256_set1_epi8(0x0F);
    let mut q = [0u8; 64];
    for k in 0..4 {
        let v = _mm256_loadu_si256(b.qs.as_ptr().add(32 * k) as *const __m256i);
        _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, _mm256_and_si256(v, m4));
        _mm256_storeu_si256(q.as_mut_ptr().add(32) as *mut __m256i, _mm256_and_si256(_mm256_srli_epi16::<4>(v), m4));
        k_pair(&q, k, &ds, &ms, &mut emit);
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q5_k<E: FnMut(usize, __m256)>(b: &BlockQ5K, mut emit: E) {
    let (ds, ms) = k4_scales(b.d, b.dmin, &b.scales);
    let m4 = _mm256_set1_epi8(0x0F);
    let one = _mm256_set1_epi8(1);
    let qh = _mm256_loadu_si256(b.qh.as_ptr() as *const __m256i);
    // Bit j of qh byte l is the high bit of element l of sub-block j: move it to bit 4.
    let high = |j: usize| _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(j as i32)), one));
    let mut q = [0u8; 64];
    for k in 0..4 {
        let v = _mm256_loadu_si256(b.qs.as_ptr().add(32 * k) as *const __m256i);
        let lo = _mm256_or_si256(_mm256_and_si256(v, m4), high(2 * k));
        let hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(v), m4), high(2 * k + 1));
        _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, lo);
        _mm256_storeu_si256(q.as_mut_ptr().add(32) as *mut __m256i, hi);
        k_pair(&q, k, &ds, &ms, &mut emit);
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q6_k<E: FnMut(usize, __m256)>(b: &BlockQ6K, mut emit: E) {
    // The 16 sub-block scales d * sc, as ggml's `d * sc[is]`.
    let mut scale = [0f32; 16];
    let dv = f16_splat(b.d);
    _mm256_storeu_ps(scale.as_mut_ptr(), _mm256_mul_ps(dv, i8x8(b.scales.as_ptr())));
    _mm256_storeu_ps(scale.as_mut_ptr().add(8), _mm256_mul_ps(dv, i8x8(b.scales.as_ptr().add(8))));
    let m4 = _mm256_set1_epi8(0x0F);
    let m30 = _mm256_set1_epi8(0x30);
    let bias = _mm256_set1_epi8(32);
    let mut q = [0i8; 128];
    for n in 0..2 {
        let ql0 = _mm256_loadu_si256(b.ql.as_ptr().add(64 * n) as *const __m256i);
        let ql1 = _mm256_loadu_si256(b.ql.as_ptr().add(64 * n + 32) as *const __m256i);
        let qh = _mm256_loadu_si256(b.qh.as_ptr().add(32 * n) as *const __m256i);
        // Elements l, l+32, l+64, l+96 take qh bits 0-1, 2-3, 4-5, 6-7 as their bits 4-5.
        let parts = [
            _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16::<4>(qh), m30)),
            _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16::<2>(qh), m30)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(ql0), m4), _mm256_and_si256(qh, m30)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(ql1), m4), _mm256_and_si256(_mm256_srli_epi16::<2>(qh), m30)),
        ];
        for (p, v) in parts.iter().enumerate() {
            _mm256_storeu_si256(q.as_mut_ptr().add(32 * p) as *mut __m256i, _mm256_sub_epi8(*v, bias));
        }
        for g in 0..16 {
            let s = _mm256_set1_ps(scale[8 * n + g / 2]);
            emit(128 * n + 8 * g, _mm256_mul_ps(s, i8x8(q.as_ptr().add(8 * g))));
        }
    }
}

/// Per-run scales of a Q2_K block: `d * (sc & 0xF)` and `dmin * (sc >> 4)`
/// for its 16 runs of 16 (ggml's `dl`, `ml`).
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q2k_scales(b: &BlockQ2K) -> ([f32; 16], [f32; 16]) {
    let sc = _mm_loadu_si128(b.scales.as_ptr() as *const __m128i);
    let lo = _mm_and_si128(sc, _mm_set1_epi8(0x0F));
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(sc), _mm_set1_epi8(0x0F));
    let (d, m) = (f16_splat(b.d), f16_splat(b.dmin));
    let widen = |v: __m128i| _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
    let mut dl = [0f32; 16];
    let mut ml = [0f32; 16];
    _mm256_storeu_ps(dl.as_mut_ptr(), _mm256_mul_ps(d, widen(lo)));
    _mm256_storeu_ps(dl.as_mut_ptr().add(8), _mm256_mul_ps(d, widen(_mm_srli_si128::<8>(lo))));
    _mm256_storeu_ps(ml.as_mut_ptr(), _mm256_mul_ps(m, widen(hi)));
    _mm256_storeu_ps(ml.as_mut_ptr().add(8), _mm256_mul_ps(m, widen(_mm_srli_si128::<8>(hi))));
    (dl, ml)
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q2_k<E: FnMut(usize, __m256)>(b: &BlockQ2K, mut emit: E) {
    let (dl, ml) = q2k_scales(b);
    let m3 = _mm256_set1_epi8(3);
    let mut q = [0u8; 128];
    for n in 0..2 {
        // Plane j of these 32 bytes holds runs 8n+2j and 8n+2j+1, in output order.
        let v = _mm256_loadu_si256(b.qs.as_ptr().add(32 * n) as *const __m256i);
        for j in 0..4 {
            let plane = _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * j as i32)), m3);
            _mm256_storeu_si256(q.as_mut_ptr().add(32 * j) as *mut __m256i, plane);
        }
        for k in 0..16 {
            let g = 8 * n + k / 2;
            let w = _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(dl[g]), u8x8(q.as_ptr().add(8 * k))), _mm256_set1_ps(ml[g]));
            emit(128 * n + 8 * k, w);
        }
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q3_k<E: FnMut(usize, __m256)>(b: &BlockQ3K, mut emit: E) {
    // dl = d * (scale - 32) for the 16 runs, as ggml's `d_all * (scales[is] - 32)`.
    let sc = q3k_scales(&b.scales);
    let s = _mm_sub_epi8(_mm_loadu_si128(sc.as_ptr() as *const __m128i), _mm_set1_epi8(32));
    let d = f16_splat(b.d);
    let mut dl = [0f32; 16];
    _mm256_storeu_ps(dl.as_mut_ptr(), _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(s))));
    _mm256_storeu_ps(dl.as_mut_ptr().add(8), _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128::<8>(s)))));
    let m3 = _mm256_set1_epi8(3);
    let four = _mm256_set1_epi8(4);
    let hmask = _mm256_loadu_si256(b.hmask.as_ptr() as *const __m256i);
    let mut q = [0i8; 128];
    for n in 0..2 {
        let v = _mm256_loadu_si256(b.qs.as_ptr().add(32 * n) as *const __m256i);
        for j in 0..4 {
            let lo = _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * j as i32)), m3);
            // Subtract 4 where the high bit (bit 4n+j of hmask) is clear.
            let bit = _mm256_set1_epi8((1u8 << (4 * n + j)) as i8);
            let clear = _mm256_cmpeq_epi8(_mm256_and_si256(hmask, bit), _mm256_setzero_si256());
            let val = _mm256_sub_epi8(lo, _mm256_and_si256(clear, four));
            _mm256_storeu_si256(q.as_mut_ptr().add(32 * j) as *mut __m256i, val);
        }
        for k in 0..16 {
            let g = 8 * n + k / 2;
            emit(128 * n + 8 * k, _mm256_mul_ps(_mm256_set1_ps(dl[g]), i8x8(q.as_ptr().add(8 * k))));
        }
    }
}

/// Formats without a dedicated decoder: the scalar reference into a stack buffer.
///
/// # Safety
/// `N` is a multiple of 8 (the buffer is read 8 values at a time); the CPU supports AVX2, FMA
/// and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn via_reference<B, const N: usize, E: FnMut(usize, __m256)>(b: &B, f: fn(&B, &mut [f32; N]), mut emit: E) {
    let mut buf = [0f32; N];
    f(b, &mut buf);
    for off in (0..N).step_by(8) {
        emit(off, _mm256_loadu_ps(buf.as_ptr().add(off)));
    }
}

// ----------------------------------------------------------------- drivers

/// How far ahead `dot` prefetches the weights, in bytes (see avx512.rs).
const PREFETCH: usize = 2048;

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn reduce(acc: [__m256; 4]) -> f32 {
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    let h = _mm_add_ss(h, _mm_movehdup_ps(h));
    _mm_cvtss_f32(h)
}

macro_rules! block_dequant {
    ($dequant:ident, $Block:ty, $n:expr, |$b:ident, $emit:ident| $decode:expr) => {
        /// # Safety
        /// The CPU supports AVX2, FMA and F16C; `src` is whole blocks and `dst`
        /// holds (at least) their values, blocks × block size.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub unsafe fn $dequant(src: &[u8], dst: &mut [f32]) {
            let blocks: &[$Block] = bytemuck::cast_slice(src);
            debug_assert_eq!(dst.len(), blocks.len() * $n);
            let out = dst.as_mut_ptr();
            for (i, $b) in blocks.iter().enumerate() {
                let y = out.add(i * $n);
                let $emit = |off: usize, w: __m256| _mm256_storeu_ps(y.add(off), w);
                $decode;
            }
        }
    };
}

macro_rules! block_dot {
    ($dot:ident, $Block:ty, $n:expr, |$b:ident, $emit:ident| $decode:expr) => {
        /// # Safety
        /// The CPU supports AVX2, FMA and F16C; `row` is whole blocks and `x`
        /// holds at least their values, blocks × block size.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub unsafe fn $dot(row: &[u8], x: &[f32]) -> f32 {
            let blocks: &[$Block] = bytemuck::cast_slice(row);
            debug_assert!(x.len() >= blocks.len() * $n);
            // Four accumulators; each emitted vector goes to a fixed one.
            let mut acc = [_mm256_setzero_ps(); 4];
            let xp = x.as_ptr();
            for (i, $b) in blocks.iter().enumerate() {
                // Ahead of the hardware prefetchers; see avx512::PREFETCH.
                let pf = ($b as *const $Block as *const i8).wrapping_add(PREFETCH);
                for line in 0..std::mem::size_of::<$Block>().div_ceil(64) {
                    _mm_prefetch::<_MM_HINT_T0>(pf.wrapping_add(64 * line));
                }
                let xb = xp.add(i * $n);
                let $emit = |off: usize, w: __m256| {
                    let a = &mut acc[(off / 8) % 4];
                    *a = _mm256_fmadd_ps(w, _mm256_loadu_ps(xb.add(off)), *a);
                };
                $decode;
            }
            reduce(acc)
        }
    };
}

block_dequant!(dequant_q4_0, BlockQ4_0, QK, |b, emit| q4_0(b, emit));
block_dequant!(dequant_q4_1, BlockQ4_1, QK, |b, emit| q4_1(b, emit));
block_dequant!(dequant_q5_0, BlockQ5_0, QK, |b, emit| q5_0(b, emit));
block_dequant!(dequant_q5_1, BlockQ5_1, QK, |b, emit| q5_1(b, emit));
block_dequant!(dequant_q8_0, BlockQ8_0, QK, |b, emit| q8_0(b, emit));
block_dequant!(dequant_q8_1, BlockQ8_1, QK, |b, emit| q8_1(b, emit));
block_dequant!(dequant_q4_k, BlockQ4K, QK_K, |b, emit| q4_k(b, emit));
block_dequant!(dequant_q5_k, BlockQ5K, QK_K, |b, emit| q5_k(b, emit));
block_dequant!(dequant_q6_k, BlockQ6K, QK_K, |b, emit| q6_k(b, emit));
block_dequant!(dequant_q2_k, BlockQ2K, QK_K, |b, emit| q2_k(b, emit));
block_dequant!(dequant_q3_k, BlockQ3K, QK_K, |b, emit| q3_k(b, emit));

block_dot!(dot_q4_0, BlockQ4_0, QK, |b, emit| q4_0(b, emit));
block_dot!(dot_q4_1, BlockQ4_1, QK, |b, emit| q4_1(b, emit));
block_dot!(dot_q5_0, BlockQ5_0, QK, |b, emit| q5_0(b, emit));
block_dot!(dot_q5_1, BlockQ5_1, QK, |b, emit| q5_1(b, emit));
block_dot!(dot_q8_0, BlockQ8_0, QK, |b, emit| q8_0(b, emit));
block_dot!(dot_q4_k, BlockQ4K, QK_K, |b, emit| q4_k(b, emit));
block_dot!(dot_q5_k, BlockQ5K, QK_K, |b, emit| q5_k(b, emit));
block_dot!(dot_q6_k, BlockQ6K, QK_K, |b, emit| q6_k(b, emit));
block_dot!(dot_q8_1, BlockQ8_1, QK, |b, emit| q8_1(b, emit));
block_dot!(dot_q2_k, BlockQ2K, QK_K, |b, emit| q2_k(b, emit));
block_dot!(dot_q3_k, BlockQ3K, QK_K, |b, emit| q3_k(b, emit));
block_dot!(dot_q8_k, BlockQ8K, QK_K, |b, emit| via_reference(b, reference::q8_k, emit));

// ------------------------------------------------------ plain float types

macro_rules! float_kernels {
    ($dequant:ident, $dot:ident, $bytes:expr, |$p:ident| $load:expr, $scalar:path) => {
        /// # Safety
        /// The CPU supports AVX2, FMA and F16C; `src` holds (at least)
        /// `dst.len()` values of the element size.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub unsafe fn $dequant(src: &[u8], dst: &mut [f32]) {
            let n = dst.len();
            debug_assert_eq!(src.len(), n * $bytes);
            let (s, y) = (src.as_ptr(), dst.as_mut_ptr());
            let mut i = 0;
            while i + 8 <= n {
                let $p = s.add(i * $bytes);
                _mm256_storeu_ps(y.add(i), $load);
                i += 8;
            }
            for (o, b) in dst[i..].iter_mut().zip(src[i * $bytes..].chunks_exact($bytes)) {
                *o = $scalar(b.try_into().expect("chunk of element size"));
            }
        }

        /// # Safety
        /// The CPU supports AVX2, FMA and F16C; `x` holds at least as many
        /// values as `row` holds whole elements.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub unsafe fn $dot(row: &[u8], x: &[f32]) -> f32 {
            let n = row.len() / $bytes;
            debug_assert!(x.len() >= n);
            let (s, xp) = (row.as_ptr(), x.as_ptr());
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i + 32 <= n {
                // One prefetch per 64-byte line of the 32 elements read below.
                for line in 0..($bytes / 2) {
                    _mm_prefetch::<_MM_HINT_T0>(s.wrapping_add(i * $bytes + PREFETCH + 64 * line) as *const i8);
                }
                for (u, a) in acc.iter_mut().enumerate() {
                    let $p = s.add((i + 8 * u) * $bytes);
                    *a = _mm256_fmadd_ps($load, _mm256_loadu_ps(xp.add(i + 8 * u)), *a);
                }
                i += 32;
            }
            while i + 8 <= n {
                let $p = s.add(i * $bytes);
                acc[0] = _mm256_fmadd_ps($load, _mm256_loadu_ps(xp.add(i)), acc[0]);
                i += 8;
            }
            let mut tail = 0f32;
            for (b, v) in row[i * $bytes..n * $bytes].chunks_exact($bytes).zip(&x[i..n]) {
                tail += $scalar(b.try_into().expect("chunk of element size")) * v;
            }
            reduce(acc) + tail
        }
    };
}

float_kernels!(dequant_f32, dot_f32, 4, |p| _mm256_loadu_ps(p as *const f32), f32::from_le_bytes);
float_kernels!(dequant_f16, dot_f16, 2, |p| _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)), f16_le);
float_kernels!(
    dequant_bf16,
    dot_bf16,
    2,
    |p| _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(_mm_loadu_si128(p as *const __m128i)))),
    bf16_le
);
