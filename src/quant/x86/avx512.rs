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
fn f16_to_f32(b: [u8; 2]) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(u16::from_le_bytes(b) as i32)))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
fn iota() -> __m512 {
    // SAFETY: IOTA is 16 f32.
    unsafe { _mm512_loadu_ps(IOTA.as_ptr()) }
}

/// 16 bytes at `p` zero-extended to 16 u32 lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn u8x16_to_u32(p: *const u8) -> __m512i {
    _mm512_cvtepu8_epi32(_mm_loadu_si128(p as *const __m128i))
}

/// 16 bytes at `p` sign-extended and converted to f32 (exact).
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

/// Lanes whose bit (in `bits`) is set get bit 4 of their index set.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
fn set_bit4(idx: __m512i, bits: u32) -> __m512i {
    _mm512_mask_or_epi32(idx, bits as __mmask16, idx, _mm512_set1_epi32(16))
}

// ---------------------------------------------------------------- decoders

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q8_0<E: FnMut(usize, __m512)>(b: &BlockQ8_0, mut emit: E) {
    let d = _mm512_set1_ps(f16_to_f32(b.d));
    let p = b.qs.as_ptr();
    emit(0, _mm512_mul_ps(i8x16_to_f32(p), d));
    emit(16, _mm512_mul_ps(i8x16_to_f32(p.add(16)), d));
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q4_0<E: FnMut(usize, __m512)>(b: &BlockQ4_0, mut emit: E) {
    // t[q] = (q - 8) * d, as ggml's `x0 * d` with x0 = q - 8.
    let t = _mm512_mul_ps(_mm512_sub_ps(iota(), _mm512_set1_ps(8.0)), _mm512_set1_ps(f16_to_f32(b.d)));
    let v = u8x16_to_u32(b.qs.as_ptr());
    emit(0, lut16(v, t));
    emit(16, lut16(_mm512_srli_epi32::<4>(v), t));
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q4_1<E: FnMut(usize, __m512)>(b: &BlockQ4_1, mut emit: E) {
    // t[q] = q * d + m
    let t = _mm512_add_ps(_mm512_mul_ps(iota(), _mm512_set1_ps(f16_to_f32(b.d))), _mm512_set1_ps(f16_to_f32(b.m)));
    let v = u8x16_to_u32(b.qs.as_ptr());
    emit(0, lut16(v, t));
    emit(16, lut16(_mm512_srli_epi32::<4>(v), t));
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q5_0<E: FnMut(usize, __m512)>(b: &BlockQ5_0, mut emit: E) {
    // t[q] = (q - 16) * d for q in 0..32, split in two 16-entry halves.
    let d = _mm512_set1_ps(f16_to_f32(b.d));
    let lo = _mm512_mul_ps(_mm512_sub_ps(iota(), _mm512_set1_ps(16.0)), d);
    let hi = _mm512_mul_ps(iota(), d);
    let qh = u32::from_le_bytes(b.qh);
    let v = u8x16_to_u32(b.qs.as_ptr());
    let nib = _mm512_set1_epi32(15);
    emit(0, lut32(set_bit4(_mm512_and_si512(v, nib), qh & 0xFFFF), lo, hi));
    emit(16, lut32(set_bit4(_mm512_srli_epi32::<4>(v), qh >> 16), lo, hi));
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q5_1<E: FnMut(usize, __m512)>(b: &BlockQ5_1, mut emit: E) {
    // t[q] = q * d + m for q in 0..32
    let d = _mm512_set1_ps(f16_to_f32(b.d));
    let m = _mm512_set1_ps(f16_to_f32(b.m));
    let lo = _mm512_add_ps(_mm512_mul_ps(iota(), d), m);
    let hi = _mm512_add_ps(_mm512_mul_ps(_mm512_add_ps(iota(), _mm512_set1_ps(16.0)), d), m);
    let qh = u32::from_le_bytes(b.qh);
    let v = u8x16_to_u32(b.qs.as_ptr());
    let nib = _mm512_set1_epi32(15);
    emit(0, lut32(set_bit4(_mm512_and_si512(v, nib), qh & 0xFFFF), lo, hi));
    emit(16, lut32(set_bit4(_mm512_srli_epi32::<4>(v), qh >> 16), lo, hi));
}

/// The 8 (scale, min) pairs of a Q4_K/Q5_K block as f32 `d * sc` and `dmin * m`.
#[inline(always)]
fn k4_scales(d: f32, dmin: f32, scales: &[u8; K_SCALE_SIZE]) -> ([f32; 8], [f32; 8]) {
    let mut ds = [0f32; 8];
    let mut ms = [0f32; 8];
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, scales);
        ds[j] = d * sc as f32;
        ms[j] = dmin * m as f32;
    }
    (ds, ms)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q4_k<E: FnMut(usize, __m512)>(b: &BlockQ4K, mut emit: E) {
    let (ds, ms) = k4_scales(f16_to_f32(b.d), f16_to_f32(b.dmin), &b.scales);
    for k in 0..4 {
        // t[q] = d_j * q - m_j, as ggml's `d1 * (q & 0xF) - m1`.
        let t1 = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(ds[2 * k]), iota()), _mm512_set1_ps(ms[2 * k]));
        let t2 = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(ds[2 * k + 1]), iota()), _mm512_set1_ps(ms[2 * k + 1]));
        let q = b.qs.as_ptr().add(32 * k);
        let v0 = u8x16_to_u32(q);
        let v1 = u8x16_to_u32(q.add(16));
        emit(64 * k, lut16(v0, t1));
        emit(64 * k + 16, lut16(v1, t1));
        emit(64 * k + 32, lut16(_mm512_srli_epi32::<4>(v0), t2));
        emit(64 * k + 48, lut16(_mm512_srli_epi32::<4>(v1), t2));
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q5_k<E: FnMut(usize, __m512)>(b: &BlockQ5K, mut emit: E) {
    let (ds, ms) = k4_scales(f16_to_f32(b.d), f16_to_f32(b.dmin), &b.scales);
    // qh byte l holds the high bits of element l of each of the 8 sub-blocks
    // (bit j for sub-block j); shifted up by 4 so that `>> j` puts it at bit 4.
    let h0 = _mm512_slli_epi32::<4>(u8x16_to_u32(b.qh.as_ptr()));
    let h1 = _mm512_slli_epi32::<4>(u8x16_to_u32(b.qh.as_ptr().add(16)));
    let sixteen = _mm512_set1_ps(16.0);
    for k in 0..4 {
        let (j1, j2) = (2 * k, 2 * k + 1);
        // t[q] = d_j * q - m_j for q in 0..32 (q = nibble + 16 * high bit).
        let (d1, m1) = (_mm512_set1_ps(ds[j1]), _mm512_set1_ps(ms[j1]));
        let (d2, m2) = (_mm512_set1_ps(ds[j2]), _mm512_set1_ps(ms[j2]));
        let t1l = _mm512_sub_ps(_mm512_mul_ps(d1, iota()), m1);
        let t1h = _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_add_ps(iota(), sixteen)), m1);
        let t2l = _mm512_sub_ps(_mm512_mul_ps(d2, iota()), m2);
        let t2h = _mm512_sub_ps(_mm512_mul_ps(d2, _mm512_add_ps(iota(), sixteen)), m2);
        let q = b.qs.as_ptr().add(32 * k);
        let v0 = u8x16_to_u32(q);
        let v1 = u8x16_to_u32(q.add(16));
        let s1 = _mm_cvtsi32_si128(j1 as i32);
        let s2 = _mm_cvtsi32_si128(j2 as i32);
        // idx = (nibble bits 0..3) | (shifted qh bit 4): a bit select with mask 15.
        let sel = |nib: __m512i, h: __m512i, s: __m128i| _mm512_ternarylogic_epi32::<0xE4>(nib, _mm512_srl_epi32(h, s), _mm512_set1_epi32(15));
        emit(64 * k, lut32(sel(v0, h0, s1), t1l, t1h));
        emit(64 * k + 16, lut32(sel(v1, h1, s1), t1l, t1h));
        emit(64 * k + 32, lut32(sel(_mm512_srli_epi32::<4>(v0), h0, s2), t2l, t2h));
        emit(64 * k + 48, lut32(sel(_mm512_srli_epi32::<4>(v1), h1, s2), t2l, t2h));
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn q6_k<E: FnMut(usize, __m512)>(b: &BlockQ6K, mut emit: E) {
    let d = _mm512_set1_ps(f16_to_f32(b.d));
    // The 16 sub-block scales d * sc, as ggml's `d * sc[is]`.
    let mut scale = [0f32; 16];
    _mm512_storeu_ps(scale.as_mut_ptr(), _mm512_mul_ps(d, i8x16_to_f32(b.scales.as_ptr())));
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
        let a = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(qh_lo, m30));
        let c = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16::<4>(ql), m4), _mm512_and_si512(qh_hi, m30));
        _mm512_storeu_si512(q.as_mut_ptr() as *mut _, _mm512_sub_epi8(a, bias));
        _mm512_storeu_si512(q.as_mut_ptr().add(64) as *mut _, _mm512_sub_epi8(c, bias));
        for g in 0..8 {
            let s = _mm512_set1_ps(scale[8 * n + g]);
            emit(128 * n + 16 * g, _mm512_mul_ps(s, i8x16_to_f32(q.as_ptr().add(16 * g))));
        }
    }
}

/// Formats without a dedicated kernel: the scalar reference into a stack
/// buffer, then vectors from it.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn via_reference<B, const N: usize, E: FnMut(usize, __m512)>(b: &B, f: fn(&B, &mut [f32; N]), mut emit: E) {
    let mut buf = [0f32; N];
    f(b, &mut buf);
    for off in (0..N).step_by(16) {
        emit(off, _mm512_loadu_ps(buf.as_ptr().add(off)));
    }
}

// ----------------------------------------------------------------- drivers

/// Sum of four accumulators' lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
fn reduce(acc: [__m512; 4]) -> f32 {
    _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
}

macro_rules! block_dequant {
    ($dequant:ident, $Block:ty, $n:expr, |$b:ident, $emit:ident| $decode:expr) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
        pub unsafe fn $dequant(src: &[u8], dst: &mut [f32]) {
            let blocks: &[$Block] = bytemuck::cast_slice(src);
            debug_assert_eq!(dst.len(), blocks.len() * $n);
            let out = dst.as_mut_ptr();
            for (i, $b) in blocks.iter().enumerate() {
                let y = out.add(i * $n);
                let $emit = |off: usize, w: __m512| _mm512_storeu_ps(y.add(off), w);
                $decode;
            }
        }
    };
}

macro_rules! block_dot {
    ($dot:ident, $Block:ty, $n:expr, |$b:ident, $emit:ident| $decode:expr) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
        pub unsafe fn $dot(row: &[u8], x: &[f32]) -> f32 {
            let blocks: &[$Block] = bytemuck::cast_slice(row);
            debug_assert!(x.len() >= blocks.len() * $n);
            // Four independent accumulators hide the FMA latency; small blocks
            // are taken in groups so that each group spans at least 64 lanes
            // and every emitted vector goes to a fixed accumulator.
            const GROUP: usize = if $n >= 64 { 1 } else { 64 / $n };
            let mut acc = [_mm512_setzero_ps(); 4];
            let xp = x.as_ptr();
            let groups = blocks.len() / GROUP;
            for c in 0..groups {
                for j in 0..GROUP {
                    let $b = blocks.get_unchecked(c * GROUP + j);
                    let xb = xp.add((c * GROUP + j) * $n);
                    let $emit = |off: usize, w: __m512| {
                        let a = &mut acc[((j * $n + off) / 16) % 4];
                        *a = _mm512_fmadd_ps(w, _mm512_loadu_ps(xb.add(off)), *a);
                    };
                    $decode;
                }
            }
            for i in groups * GROUP..blocks.len() {
                let $b = blocks.get_unchecked(i);
                let xb = xp.add(i * $n);
                let $emit = |off: usize, w: __m512| {
                    let a = &mut acc[(off / 16) % 4];
                    *a = _mm512_fmadd_ps(w, _mm512_loadu_ps(xb.add(off)), *a);
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
block_dequant!(dequant_q4_k, BlockQ4K, QK_K, |b, emit| q4_k(b, emit));
block_dequant!(dequant_q5_k, BlockQ5K, QK_K, |b, emit| q5_k(b, emit));
block_dequant!(dequant_q6_k, BlockQ6K, QK_K, |b, emit| q6_k(b, emit));

block_dot!(dot_q4_0, BlockQ4_0, QK, |b, emit| q4_0(b, emit));
block_dot!(dot_q4_1, BlockQ4_1, QK, |b, emit| q4_1(b, emit));
block_dot!(dot_q5_0, BlockQ5_0, QK, |b, emit| q5_0(b, emit));
block_dot!(dot_q5_1, BlockQ5_1, QK, |b, emit| q5_1(b, emit));
block_dot!(dot_q8_0, BlockQ8_0, QK, |b, emit| q8_0(b, emit));
block_dot!(dot_q4_k, BlockQ4K, QK_K, |b, emit| q4_k(b, emit));
block_dot!(dot_q5_k, BlockQ5K, QK_K, |b, emit| q5_k(b, emit));
block_dot!(dot_q6_k, BlockQ6K, QK_K, |b, emit| q6_k(b, emit));
// Formats with no dedicated decoder (dequantising them goes to the scalar
// reference directly: a buffer would gain nothing).
block_dot!(dot_q8_1, BlockQ8_1, QK, |b, emit| via_reference(b, reference::q8_1, emit));
block_dot!(dot_q2_k, BlockQ2K, QK_K, |b, emit| via_reference(b, reference::q2_k, emit));
block_dot!(dot_q3_k, BlockQ3K, QK_K, |b, emit| via_reference(b, reference::q3_k, emit));
block_dot!(dot_q8_k, BlockQ8K, QK_K, |b, emit| via_reference(b, reference::q8_k, emit));

// ------------------------------------------------------ plain float types

macro_rules! float_kernels {
    ($dequant:ident, $dot:ident, $bytes:expr, |$p:ident| $load:expr, |$pm:ident, $k:ident| $load_masked:expr) => {
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

        #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
        pub unsafe fn $dot(row: &[u8], x: &[f32]) -> f32 {
            let n = row.len() / $bytes;
            debug_assert!(x.len() >= n);
            let (s, xp) = (row.as_ptr(), x.as_ptr());
            let mut acc = [_mm512_setzero_ps(); 4];
            let mut i = 0;
            while i + 64 <= n {
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

float_kernels!(dequant_f32, dot_f32, 4,
    |p| _mm512_loadu_ps(p as *const f32),
    |p, k| _mm512_maskz_loadu_ps(k, p as *const f32));
float_kernels!(dequant_f16, dot_f16, 2,
    |p| _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)),
    |p, k| _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p as *const i16)));
float_kernels!(dequant_bf16, dot_bf16, 2,
    |p| _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_loadu_si256(p as *const __m256i)))),
    |p, k| _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p as *const i16)))));
