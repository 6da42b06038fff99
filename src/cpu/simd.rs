//! A thin SIMD abstraction so each CPU kernel is written once, generically,
//! and instantiated for AVX-512, AVX2+FMA and a portable fallback.
//!
//! Every method is `#[inline(always)]` and the kernels that use them are too;
//! the ISA-specific entry points are `#[target_feature]` functions that call
//! the generic kernel, so the whole kernel is compiled for that ISA (the same
//! trick as the `pulp` crate). The level is chosen once at run time
//! ([`level`]); `DYAG_SIMD=scalar|avx2|avx512` forces a lower one for tests and
//! benchmarks.

/// The instruction-set levels, detected once for the whole crate (with the
/// quantised kernels, which honour the same `DYAG_SIMD` variable).
pub use crate::quant::SimdLevel as Level;

/// The level the kernels run with: the best this CPU supports, or lower if
/// `DYAG_SIMD` asks for it.
pub fn level() -> Level {
    crate::quant::simd_level()
}

/// Dispatches a generic kernel `$f::<S>(args)` to the best available level.
/// `$f` must be `#[inline(always)]`; it is compiled three times.
#[macro_export]
macro_rules! simd_dispatch {
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $kernel:ident) => {
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU supports every feature enabled here (AVX-512 F/BW/VL,
                /// AVX2, FMA, F16C), and the arguments meet the generic kernel's own
                /// requirements (kernels over slices have none; gemm's take raw pointers).
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? { $kernel::<$crate::cpu::simd::Avx512>($($arg),*) }
                /// # Safety
                /// The CPU supports AVX2, FMA and F16C; the arguments as for `avx512`.
                #[target_feature(enable = "avx2,fma,f16c")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { $kernel::<$crate::cpu::simd::Avx2>($($arg),*) }
                match $crate::cpu::simd::level() {
                    // SAFETY: `level()` is `Avx512` only when the CPU reported
                    // avx512f, avx512bw, avx512vl, avx2, fma and f16c, and `Avx2`
                    // only with avx2, fma and f16c (`quant::dispatch::detect`;
                    // `DYAG_SIMD` can only lower the level): each arm's features.
                    $crate::cpu::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    $crate::cpu::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::cpu::simd::Level::Scalar => {}
                }
            }
            $kernel::<$crate::cpu::simd::Scalar>($($arg),*)
        }
    };
}

/// Vector operations on `LANES` f32 values. All loads and stores are unaligned.
///
/// # Safety
/// Implementations use CPU instructions that must be available: only call
/// them from code compiled for (and running on) that level, i.e. through
/// [`simd_dispatch!`]. In addition, `load` and `store` need `p` valid for
/// reading / writing `LANES` f32 values, `load_partial` and `store_partial`
/// need `n < LANES` and `p` valid for `n` values. This contract is every
/// method's `# Safety` section (the implementations below add nothing to it).
#[allow(clippy::missing_safety_doc)]
pub trait Simd: Copy {
    const LANES: usize;
    type V: Copy;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// The first `n < LANES` values at `p`, zeros in the other lanes (reads only n values).
    unsafe fn load_partial(p: *const f32, n: usize) -> Self::V;
    /// Stores the first `n < LANES` lanes of `v` at `p` (writes only n values).
    unsafe fn store_partial(p: *mut f32, v: Self::V, n: usize);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// a * b + c, fused.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Round to nearest integer (as float).
    unsafe fn round(a: Self::V) -> Self::V;
    /// 2^n for integral `n` in [-126, 127] (given as float).
    unsafe fn pow2i(n: Self::V) -> Self::V;
    unsafe fn hsum(v: Self::V) -> f32;
    unsafe fn hmax(v: Self::V) -> f32;

    /// e^x, relative error ~2 ulp over the f32 range (Cephes polynomial);
    /// underflows to 0 below -87.3 and saturates above 88.7.
    #[inline(always)]
    unsafe fn exp(x: Self::V) -> Self::V {
        let x = Self::min(Self::max(x, Self::splat(-87.336_54)), Self::splat(88.722_83));
        let n = Self::round(Self::mul(x, Self::splat(std::f32::consts::LOG2_E)));
        // r = x - n ln2, with ln2 split in two for precision.
        let r = Self::fma(n, Self::splat(-0.693_359_4), x);
        let r = Self::fma(n, Self::splat(2.121_944_4e-4), r);
        let mut p = Self::splat(1.987_569_1e-4);
        p = Self::fma(p, r, Self::splat(1.398_199_9e-3));
        p = Self::fma(p, r, Self::splat(8.333_452e-3));
        p = Self::fma(p, r, Self::splat(4.166_579_6e-2));
        p = Self::fma(p, r, Self::splat(1.666_666_5e-1));
        p = Self::fma(p, r, Self::splat(0.5));
        let r2 = Self::mul(r, r);
        let y = Self::add(Self::fma(p, r2, r), Self::splat(1.0));
        // n can be 128 at the top of the range: split 2^n in two factors.
        let half = Self::round(Self::mul(n, Self::splat(0.5)));
        Self::mul(Self::mul(y, Self::pow2i(half)), Self::pow2i(Self::sub(n, half)))
    }

    /// tanh(x) = 1 - 2 / (e^{2x} + 1), accurate to a few ulp away from 0 and
    /// computed as x·(1 - x²/3) near 0 where the subtraction would cancel.
    #[inline(always)]
    unsafe fn tanh(x: Self::V) -> Self::V {
        let e = Self::exp(Self::mul(x, Self::splat(2.0)));
        let t = Self::sub(Self::splat(1.0), Self::div(Self::splat(2.0), Self::add(e, Self::splat(1.0))));
        // Near zero use the odd Taylor series (to x^7) instead.
        let x2 = Self::mul(x, x);
        let mut p = Self::splat(-17.0 / 315.0);
        p = Self::fma(p, x2, Self::splat(2.0 / 15.0));
        p = Self::fma(p, x2, Self::splat(-1.0 / 3.0));
        let small = Self::fma(Self::mul(p, x2), x, x);
        Self::select_small(x, Self::splat(0.0625), small, t)
    }

    /// Per lane: `if |x| < limit { a } else { b }`.
    unsafe fn select_small(x: Self::V, limit: Self::V, a: Self::V, b: Self::V) -> Self::V;
}

/// Portable fallback: 8 lanes in an array; the compiler vectorises it with
/// the baseline instruction set.
#[derive(Clone, Copy)]
pub struct Scalar;

macro_rules! lanes {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let (a, b) = ($a, $b);
        let mut o = [0f32; 8];
        for i in 0..8 {
            let ($x, $y) = (a[i], b[i]);
            o[i] = $e;
        }
        o
    }};
}

impl Simd for Scalar {
    const LANES: usize = 8;
    type V = [f32; 8];
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        [0.0; 8]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        std::ptr::read_unaligned(p as *const [f32; 8])
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        std::ptr::write_unaligned(p as *mut [f32; 8], v)
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self::V {
        let mut v = [0f32; 8];
        for (i, x) in v.iter_mut().enumerate().take(n) {
            *x = *p.add(i);
        }
        v
    }
    #[inline(always)]
    unsafe fn store_partial(p: *mut f32, v: Self::V, n: usize) {
        for (i, x) in v.iter().enumerate().take(n) {
            *p.add(i) = *x;
        }
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        lanes!(a, b, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        lanes!(a, b, |x, y| x - y)
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        lanes!(a, b, |x, y| x * y)
    }
    #[inline(always)]
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V {
        lanes!(a, b, |x, y| x / y)
    }
    #[inline(always)]
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V {
        lanes!(a, b, |x, y| if x > y { x } else { y })
    }
    #[inline(always)]
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V {
        lanes!(a, b, |x, y| if x < y { x } else { y })
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        let mut o = [0f32; 8];
        for i in 0..8 {
            o[i] = a[i].mul_add(b[i], c[i]);
        }
        o
    }
    #[inline(always)]
    unsafe fn round(a: Self::V) -> Self::V {
        a.map(|x| x.round_ties_even())
    }
    #[inline(always)]
    unsafe fn pow2i(n: Self::V) -> Self::V {
        n.map(|x| f32::from_bits((((x as i32) + 127) as u32) << 23))
    }
    #[inline(always)]
    unsafe fn hsum(v: Self::V) -> f32 {
        ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
    }
    #[inline(always)]
    unsafe fn hmax(v: Self::V) -> f32 {
        v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    }
    #[inline(always)]
    unsafe fn select_small(x: Self::V, limit: Self::V, a: Self::V, b: Self::V) -> Self::V {
        let mut o = [0f32; 8];
        for i in 0..8 {
            o[i] = if x[i].abs() < limit[i] { a[i] } else { b[i] };
        }
        o
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub struct Avx512;

    impl Simd for Avx512 {
        const LANES: usize = 16;
        type V = __m512;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            _mm512_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> __m512 {
            _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, p)
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f32, v: __m512, n: usize) {
            _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as u16, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            _mm512_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m512, b: __m512) -> __m512 {
            _mm512_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            _mm512_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn div(a: __m512, b: __m512) -> __m512 {
            _mm512_div_ps(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            _mm512_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn min(a: __m512, b: __m512) -> __m512 {
            _mm512_min_ps(a, b)
        }
        #[inline(always)]
        unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn round(a: __m512) -> __m512 {
            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a)
        }
        #[inline(always)]
        unsafe fn pow2i(n: __m512) -> __m512 {
            _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127))))
        }
        #[inline(always)]
        unsafe fn hsum(v: __m512) -> f32 {
            _mm512_reduce_add_ps(v)
        }
        #[inline(always)]
        unsafe fn hmax(v: __m512) -> f32 {
            _mm512_reduce_max_ps(v)
        }
        #[inline(always)]
        unsafe fn select_small(x: __m512, limit: __m512, a: __m512, b: __m512) -> __m512 {
            let ax = _mm512_abs_ps(x);
            let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(ax, limit);
            _mm512_mask_blend_ps(m, b, a)
        }
    }

    #[derive(Clone, Copy)]
    pub struct Avx2;

    impl Avx2 {
        /// Lanes 0..n set (sign bit), the others clear.
        ///
        /// # Safety
        /// The CPU supports AVX2 (the `Simd` contract of `Avx2`).
        #[inline(always)]
        unsafe fn mask(n: usize) -> __m256i {
            _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
        }
    }

    impl Simd for Avx2 {
        const LANES: usize = 8;
        type V = __m256;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            _mm256_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> __m256 {
            _mm256_maskload_ps(p, Self::mask(n))
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f32, v: __m256, n: usize) {
            _mm256_maskstore_ps(p, Self::mask(n), v)
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            _mm256_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            _mm256_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn div(a: __m256, b: __m256) -> __m256 {
            _mm256_div_ps(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            _mm256_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn min(a: __m256, b: __m256) -> __m256 {
            _mm256_min_ps(a, b)
        }
        #[inline(always)]
        unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn round(a: __m256) -> __m256 {
            _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a)
        }
        #[inline(always)]
        unsafe fn pow2i(n: __m256) -> __m256 {
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127))))
        }
        #[inline(always)]
        unsafe fn hsum(v: __m256) -> f32 {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
            _mm_cvtss_f32(s)
        }
        #[inline(always)]
        unsafe fn hmax(v: __m256) -> f32 {
            let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_max_ss(s, _mm_shuffle_ps::<1>(s, s));
            _mm_cvtss_f32(s)
        }
        #[inline(always)]
        unsafe fn select_small(x: __m256, limit: __m256, a: __m256, b: __m256) -> __m256 {
            let ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
            let m = _mm256_cmp_ps::<_CMP_LT_OQ>(ax, limit);
            _mm256_blendv_ps(b, a, m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(always)]
    fn exp_kernel<S: Simd>(x: &[f32], out: &mut [f32]) {
        for (xc, oc) in x.chunks_exact(S::LANES).zip(out.chunks_exact_mut(S::LANES)) {
            // SAFETY: `xc` and `oc` are exactly LANES values; S is the level
            // `exp_all` (simd_dispatch!, the only caller) checked the CPU runs.
            unsafe { S::store(oc.as_mut_ptr(), S::exp(S::load(xc.as_ptr()))) }
        }
    }
    #[inline(always)]
    fn tanh_kernel<S: Simd>(x: &[f32], out: &mut [f32]) {
        for (xc, oc) in x.chunks_exact(S::LANES).zip(out.chunks_exact_mut(S::LANES)) {
            // SAFETY: as in `exp_kernel` (the only caller is `tanh_all`).
            unsafe { S::store(oc.as_mut_ptr(), S::tanh(S::load(xc.as_ptr()))) }
        }
    }
    crate::simd_dispatch!(fn exp_all(x: &[f32], out: &mut [f32]) => exp_kernel);
    crate::simd_dispatch!(fn tanh_all(x: &[f32], out: &mut [f32]) => tanh_kernel);

    fn grid() -> Vec<f32> {
        (0..4096).map(|i| -100.0 + 200.0 * i as f32 / 4095.0).chain((0..4096).map(|i| -1.0 + 2.0 * i as f32 / 4095.0)).collect()
    }

    #[test]
    fn exp_matches_std_within_4_ulp() {
        let x = grid();
        let mut y = vec![0f32; x.len()];
        exp_all(&x, &mut y);
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = (xi as f64).exp();
            if want < 1e-37 {
                assert!(yi.abs() < 1e-37, "exp({xi}) = {yi}");
                continue;
            }
            if want > f32::MAX as f64 {
                continue;
            }
            let rel = ((yi as f64 - want) / want).abs();
            assert!(rel < 4.0 * f32::EPSILON as f64, "exp({xi}) = {yi}, want {want}, rel {rel}");
        }
    }

    #[test]
    fn tanh_matches_std() {
        let x = grid();
        let mut y = vec![0f32; x.len()];
        tanh_all(&x, &mut y);
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = (xi as f64).tanh();
            // Absolute error matters for GELU (multiplied by x/2): 2e-7 is ~1 ulp of 1.
            assert!((yi as f64 - want).abs() < 2.5e-7 + 4e-7 * want.abs(), "tanh({xi}) = {yi}, want {want}");
        }
    }
}
