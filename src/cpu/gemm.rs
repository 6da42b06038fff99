//! f32 matrix multiplication on the CPU: the three shapes the engine needs.
//!
//! - [`gemm_nt`]: C = A·Bᵀ, both operands contiguous along k. Linear layers
//!   (`y = x Wᵀ`, W stored `[out, in]`) and attention scores (Q·Kᵀ).
//! - [`gemm_nn`]: C = A·B. Input gradients through a linear layer
//!   (`dx = dy W`) and attention outputs (P·V).
//! - [`gemm_tn`]: C = Aᵀ·B. Weight gradients (LoRA) and dV = Pᵀ·dO.
//!
//! Each is a register-blocked micro-kernel written once over [`Simd`] and
//! compiled for AVX-512, AVX2 and the portable fallback; the driver blocks k
//! for L1 and splits the larger of m and n over rayon's threads.
//! Row-major everywhere; `ld*` are row strides in elements. `accumulate`
//! chooses between C = … and C += ….

use super::simd::Simd;
use rayon::prelude::*;

/// Rows of A per micro-tile in gemm_nt (tokens).
const NT_MR: usize = 6;
/// Rows of B per micro-tile in gemm_nt (weight rows / output features).
const NT_NR: usize = 4;
/// k is processed in chunks of this many elements so that a packed block of B
/// (KC × 64 floats, 32 KB) stays in L1.
const KC: usize = 128;
/// Rows of A per micro-tile in gemm_nn/gemm_tn.
const NN_MR: usize = 6;
/// Vectors of C columns per micro-tile in gemm_nn/gemm_tn.
const NN_NR: usize = 4;
/// Below this many multiply-adds (~40 µs of one core), waking other threads
/// costs more than they save (measured on attention's small per-head products).
const PARALLEL_MIN_WORK: usize = 1 << 21;

use super::SendPtr;

fn check(name: &str, len: usize, rows: usize, cols: usize, ld: usize) {
    assert!(cols <= ld || rows <= 1, "{name}: row stride {ld} < {cols} columns");
    if rows > 0 && cols > 0 {
        assert!(len >= (rows - 1) * ld + cols, "{name}: slice of {len} too short for {rows}x{cols} (stride {ld})");
    }
}

/// C[m×n] (+)= A[m×k] · B[n×k]ᵀ.
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt(m: usize, n: usize, k: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
    gemm_nt_into(k, a, lda, b, ldb, OutBlock::of_slice("gemm_nt C", c, m, n, ldc), accumulate)
}

/// [`gemm_nt`] into a block of a larger matrix that other tasks write too.
pub fn gemm_nt_into(k: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, c: OutBlock<'_>, accumulate: bool) {
    let (m, n) = (c.rows, c.cols);
    check("gemm_nt A", a.len(), m, k, lda);
    check("gemm_nt B", b.len(), n, k, ldb);
    if c.is_empty_product(k, accumulate) {
        return;
    }
    let cp = c.ptr;
    let ldc = c.ld;
    let (ap, bp) = (SendPtr(a.as_ptr() as *mut f32), SendPtr(b.as_ptr() as *mut f32));
    if m < PACK_MIN_M {
        // Few rows of A: one vectorised dot product per element of C.
        let run = |i0: usize, i1: usize, j0: usize, j1: usize| {
            // SAFETY: `check` above asserted that A and B hold m×k and n×k
            // matrices at strides lda, ldb, and the OutBlock's contract that C
            // is an m×n one at stride ldc (m, n, k > 0 here), so the
            // sub-matrices from rows i0 of A, j0 of B and (i0, j0) of C meet
            // nt_block's contract; split_2d gives each task its own block
            // [i0, i1)×[j0, j1) of C, so no two tasks touch one element of C.
            unsafe {
                nt_block(
                    i1 - i0,
                    j1 - j0,
                    k,
                    ap.ptr().add(i0 * lda),
                    lda,
                    bp.ptr().add(j0 * ldb),
                    ldb,
                    cp.ptr().add(i0 * ldc + j0),
                    ldc,
                    accumulate,
                )
            }
        };
        split_2d(m, n, m * n * k, NT_MR, NT_NR, run);
        return;
    }
    // Many rows: transpose a panel of B (k × PACK_N) and run the broadcast
    // kernel of gemm_nn, about twice as fast as dot products (no horizontal
    // sums, one load of B per PACK_N outputs); the transposition costs
    // O(n·k), negligible next to the O(m·n·k) product.
    let run = |i0: usize, i1: usize, j0: usize, j1: usize| {
        let mut j = j0;
        while j < j1 {
            let nc = PACK_N.min(j1 - j);
            let mut bt = super::scratch::take(k * nc);
            // Blocked over k so the written block of bt (16 × nc) stays in L1.
            for k0 in (0..k).step_by(16) {
                let k1 = (k0 + 16).min(k);
                for jj in 0..nc {
                    // SAFETY: j + jj < n and k0 < k1 ≤ k: the slice lies inside row
                    // j + jj of B, which `check` proved is within `b` (only read).
                    let row = unsafe { std::slice::from_raw_parts(bp.ptr().add((j + jj) * ldb + k0), k1 - k0) };
                    for (kk, &v) in row.iter().enumerate() {
                        bt[(k0 + kk) * nc + jj] = v;
                    }
                }
            }
            // SAFETY: rows i0..i1 of A (k elements, stride lda) and the block
            // rows i0..i1 × columns j..j + nc of C lie inside the matrices that
            // `check` and the OutBlock verified (m, n, k > 0); `bt` holds the k × nc panel (take(k * nc)) read
            // at stride nc; this task owns its block of C (split_2d).
            unsafe {
                nn_block(i1 - i0, nc, k, ap.ptr().add(i0 * lda), lda, 1, bt.as_ptr(), nc, cp.ptr().add(i0 * ldc + j), ldc, accumulate)
            }
            j += nc;
        }
    };
    split_2d(m, n, m * n * k, NN_MR, PACK_N, run);
}

/// An m×n block of an output matrix at row stride `ld`, held by raw pointer:
/// how parallel tasks that own disjoint columns of one matrix hand their part
/// to a GEMM. A `&mut [f32]` spanning the block's rows would also claim the
/// other tasks' columns between them, and overlapping live `&mut` are
/// undefined behaviour even when the writes are disjoint. Not `Clone`: one
/// block, one writer.
pub struct OutBlock<'a> {
    ptr: SendPtr<f32>,
    rows: usize,
    cols: usize,
    ld: usize,
    _borrow: std::marker::PhantomData<&'a mut f32>,
}

impl<'a> OutBlock<'a> {
    /// The block over a whole slice, its size checked (panics naming `what`).
    pub fn of_slice(what: &str, c: &'a mut [f32], rows: usize, cols: usize, ld: usize) -> Self {
        check(what, c.len(), rows, cols, ld);
        OutBlock { ptr: SendPtr(c.as_mut_ptr()), rows, cols, ld, _borrow: std::marker::PhantomData }
    }

    /// A block of a matrix that other tasks write too.
    ///
    /// # Safety
    /// `cols ≤ ld` (or `rows ≤ 1`); for `'a`, `ptr` is valid for reads and
    /// writes of the elements `i·ld + j` (i < rows, j < cols), and nothing else
    /// accesses those elements (others may access the elements in between).
    pub unsafe fn from_raw(ptr: *mut f32, rows: usize, cols: usize, ld: usize) -> Self {
        debug_assert!(cols <= ld || rows <= 1);
        OutBlock { ptr: SendPtr(ptr), rows, cols, ld, _borrow: std::marker::PhantomData }
    }

    /// True when the product has nothing to multiply: an empty C, or k = 0
    /// (then C = 0, or C is left as it is when accumulating). The kernels need
    /// m, n, k > 0: with k = 0, nothing proves A and B hold even one element,
    /// and offsetting their pointers could leave the allocation.
    fn is_empty_product(&self, k: usize, accumulate: bool) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        if k > 0 {
            return false;
        }
        if !accumulate {
            for i in 0..self.rows {
                // SAFETY: row i's cols elements are this block's (its contract).
                unsafe { std::ptr::write_bytes(self.ptr.ptr().add(i * self.ld), 0, self.cols) };
            }
        }
        true
    }
}

/// Below this many rows of A, gemm_nt uses dot products instead of packing B.
const PACK_MIN_M: usize = 4;
/// Columns of C per packed panel of Bᵀ.
const PACK_N: usize = 64;

/// C[m×n] (+)= A[m×k] · B[k×n].
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn(m: usize, n: usize, k: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
    gemm_nn_into(k, a, lda, b, ldb, OutBlock::of_slice("gemm_nn C", c, m, n, ldc), accumulate)
}

/// [`gemm_nn`] into a block of a larger matrix that other tasks write too.
pub fn gemm_nn_into(k: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, c: OutBlock<'_>, accumulate: bool) {
    check("gemm_nn A", a.len(), c.rows, k, lda);
    check("gemm_nn B", b.len(), k, c.cols, ldb);
    gemm_strided_a(k, a, lda, 1, b, ldb, c, accumulate);
}

/// C[m×n] (+)= A[k×m]ᵀ · B[k×n].
#[allow(clippy::too_many_arguments)]
pub fn gemm_tn(m: usize, n: usize, k: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
    check("gemm_tn A", a.len(), k, m, lda);
    check("gemm_tn B", b.len(), k, n, ldb);
    gemm_strided_a(k, a, 1, lda, b, ldb, OutBlock::of_slice("gemm_tn C", c, m, n, ldc), accumulate);
}

/// C = A·B where element (i, kk) of A is at `a[i*ars + kk*acs]`.
#[allow(clippy::too_many_arguments)]
fn gemm_strided_a(k: usize, a: &[f32], ars: usize, acs: usize, b: &[f32], ldb: usize, c: OutBlock<'_>, accumulate: bool) {
    let (m, n) = (c.rows, c.cols);
    if c.is_empty_product(k, accumulate) {
        return;
    }
    let (ap, bp, cp, ldc) = (SendPtr(a.as_ptr() as *mut f32), SendPtr(b.as_ptr() as *mut f32), c.ptr, c.ld);
    let run = |i0: usize, i1: usize, j0: usize, j1: usize| {
        // SAFETY: gemm_nn(_into) and gemm_tn (the only callers) `check`ed that A
        // holds element (i, kk) at i·ars + kk·acs for i < m, kk < k and B a k×n
        // matrix at stride ldb; the OutBlock's contract makes C an m×n one at
        // stride ldc (m, n, k > 0 here); split_2d gives each task its own block
        // [i0, i1)×[j0, j1) of C, so no two tasks share an element.
        unsafe {
            nn_block(
                i1 - i0,
                j1 - j0,
                k,
                ap.ptr().add(i0 * ars),
                ars,
                acs,
                bp.ptr().add(j0),
                ldb,
                cp.ptr().add(i0 * ldc + j0),
                ldc,
                accumulate,
            )
        }
    };
    split_2d(m, n, m * n * k, NN_MR, 64, run);
}

thread_local! {
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every GEMM it calls kept on the calling thread: for callers
/// that already split their work over all threads.
pub fn with_serial<R>(f: impl FnOnce() -> R) -> R {
    let prev = SERIAL.with(|s| s.replace(true));
    let r = f();
    SERIAL.with(|s| s.set(prev));
    r
}

/// Splits an m×n output into blocks (in multiples of the micro-tile) and runs
/// `f(i0, i1, j0, j1)` on each, over the threads. Columns are preferred
/// whenever there are enough of them: B is usually the large operand (a
/// weight matrix), and a split by columns lets each thread read, and pack,
/// only its own part of it; a split by rows makes every thread stream all of B.
fn split_2d(m: usize, n: usize, work: usize, mr: usize, nr: usize, f: impl Fn(usize, usize, usize, usize) + Sync) {
    let threads = rayon::current_num_threads();
    if threads <= 1 || work < PARALLEL_MIN_WORK || SERIAL.with(|s| s.get()) {
        f(0, m, 0, n);
        return;
    }
    // More pieces than threads so that uneven pieces balance out.
    let pieces = threads * 4;
    if n / nr >= threads * 2 || n / nr >= m / mr {
        let step = n.div_ceil(pieces).div_ceil(nr) * nr;
        (0..n.div_ceil(step)).into_par_iter().for_each(|p| f(0, m, p * step, ((p + 1) * step).min(n)));
    } else {
        let step = m.div_ceil(pieces).div_ceil(mr) * mr;
        (0..m.div_ceil(step)).into_par_iter().for_each(|p| f(p * step, ((p + 1) * step).min(m), 0, n));
    }
}

// ---------------------------------------------------------------- gemm_nt

// A safe wrapper only in name: nt_block_generic dereferences the raw pointers
// it is given. It is private to this module and only called by nt_block.
crate::simd_dispatch!(fn nt_block_dispatch(m: usize, n: usize, k: usize, a: SendPtr<f32>, lda: usize, b: SendPtr<f32>, ldb: usize, c: SendPtr<f32>, ldc: usize, accumulate: bool) => nt_block_generic);

/// C[m×n] (+)= A[m×k] · B[n×k]ᵀ on raw row-major matrices, at the best SIMD level.
///
/// # Safety
/// m, n, k > 0; `a` is valid for reads of `(m − 1)·lda + k` f32, `b` of
/// `(n − 1)·ldb + k`, `c` for reads and writes of `(m − 1)·ldc + n`; no other
/// thread accesses the m×n elements of C addressed during the call.
#[allow(clippy::too_many_arguments)]
unsafe fn nt_block(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    nt_block_dispatch(m, n, k, SendPtr(a as *mut f32), lda, SendPtr(b as *mut f32), ldb, SendPtr(c), ldc, accumulate)
}

/// The body of nt_block at level `S`. Not an `unsafe fn` so that
/// simd_dispatch! can instantiate it, but it has nt_block's contract: only
/// nt_block (through the dispatcher) and the tests, with slices, call it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn nt_block_generic<S: Simd>(
    m: usize,
    n: usize,
    k: usize,
    a: SendPtr<f32>,
    lda: usize,
    b: SendPtr<f32>,
    ldb: usize,
    c: SendPtr<f32>,
    ldc: usize,
    accumulate: bool,
) {
    let (a, b, c) = (a.0 as *const f32, b.0 as *const f32, c.0);
    let mut k0 = 0;
    loop {
        let kc = KC.min(k - k0);
        let acc = accumulate || k0 > 0;
        let mut i = 0;
        while i < m {
            let mr = NT_MR.min(m - i);
            let mut j = 0;
            while j < n {
                let nr = NT_NR.min(n - j);
                // SAFETY: the callers pass matrices meeting nt_block's contract,
                // and the tile (rows i..i + mr of A and C, j..j + nr of B and
                // C, columns k0..k0 + kc of A and B) lies inside them. S is the
                // level simd_dispatch! checked the CPU runs (Scalar in tests).
                unsafe {
                    let (ap, bp, cp) = (a.add(i * lda + k0), b.add(j * ldb + k0), c.add(i * ldc + j));
                    macro_rules! tile {
                        ($($mr:literal),*) => {
                            match (mr, nr) {
                                $(($mr, NT_NR) => nt_tile::<S, $mr, NT_NR>(kc, ap, lda, bp, ldb, cp, ldc, acc),)*
                                _ => nt_tile_any::<S>(mr, nr, kc, ap, lda, bp, ldb, cp, ldc, acc),
                            }
                        };
                    }
                    tile!(6, 5, 4, 3, 2, 1);
                }
                j += nr;
            }
            i += mr;
        }
        k0 += kc;
        if k0 >= k {
            break;
        }
    }
}

/// One MR×NR tile of C from MR rows of A and NR rows of B, over `kc` elements.
///
/// # Safety
/// `a` is valid for reads of MR rows of `kc` f32, `lda` apart; `b` of NR rows
/// of `kc`, `ldb` apart; `c` for reads and writes of MR rows of NR, `ldc`
/// apart; S's instructions are available (the `Simd` contract).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn nt_tile<S: Simd, const MR: usize, const NR: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    let mut acc = [[S::zero(); NR]; MR];
    let kv = kc - kc % S::LANES;
    let mut kk = 0;
    while kk < kv {
        let mut bv = [S::zero(); NR];
        for (j, v) in bv.iter_mut().enumerate() {
            *v = S::load(b.add(j * ldb + kk));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let av = S::load(a.add(i * lda + kk));
            for j in 0..NR {
                row[j] = S::fma(av, bv[j], row[j]);
            }
        }
        kk += S::LANES;
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let mut s = S::hsum(*v);
            for t in kv..kc {
                s += *a.add(i * lda + t) * *b.add(j * ldb + t);
            }
            let cp = c.add(i * ldc + j);
            *cp = if accumulate { *cp + s } else { s };
        }
    }
}

/// Edge tiles of any size: one vectorised dot product per element.
///
/// # Safety
/// As [`nt_tile`] with `mr` rows of A and C and `nr` rows of B.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn nt_tile_any<S: Simd>(
    mr: usize,
    nr: usize,
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    for i in 0..mr {
        for j in 0..nr {
            let s = dot_raw::<S>(a.add(i * lda), b.add(j * ldb), kc);
            let cp = c.add(i * ldc + j);
            *cp = if accumulate { *cp + s } else { s };
        }
    }
}

/// Σ x[i]·y[i] over `n` elements, four independent accumulators.
///
/// # Safety
/// `x` and `y` are valid for reads of `n` f32 each; S's instructions are
/// available (the `Simd` contract).
#[inline(always)]
pub(crate) unsafe fn dot_raw<S: Simd>(x: *const f32, y: *const f32, n: usize) -> f32 {
    let l = S::LANES;
    let (mut s0, mut s1, mut s2, mut s3) = (S::zero(), S::zero(), S::zero(), S::zero());
    let mut i = 0;
    while i + 4 * l <= n {
        s0 = S::fma(S::load(x.add(i)), S::load(y.add(i)), s0);
        s1 = S::fma(S::load(x.add(i + l)), S::load(y.add(i + l)), s1);
        s2 = S::fma(S::load(x.add(i + 2 * l)), S::load(y.add(i + 2 * l)), s2);
        s3 = S::fma(S::load(x.add(i + 3 * l)), S::load(y.add(i + 3 * l)), s3);
        i += 4 * l;
    }
    while i + l <= n {
        s0 = S::fma(S::load(x.add(i)), S::load(y.add(i)), s0);
        i += l;
    }
    let mut s = S::hsum(S::add(S::add(s0, s1), S::add(s2, s3)));
    while i < n {
        s += *x.add(i) * *y.add(i);
        i += 1;
    }
    s
}

// ---------------------------------------------------------- gemm_nn / tn

// As nt_block_dispatch: private, safe only in name, called by nn_block only.
crate::simd_dispatch!(fn nn_block_dispatch(m: usize, n: usize, k: usize, a: SendPtr<f32>, ars: usize, acs: usize, b: SendPtr<f32>, ldb: usize, c: SendPtr<f32>, ldc: usize, accumulate: bool) => nn_block_generic);

/// C[m×n] (+)= A·B where element (i, kk) of A is at `a[i·ars + kk·acs]` and B
/// is k×n row-major; at the best SIMD level.
///
/// # Safety
/// m, n, k > 0; `a` is valid for reads of `(m − 1)·ars + (k − 1)·acs + 1` f32,
/// `b` of `(k − 1)·ldb + n`, `c` for reads and writes of `(m − 1)·ldc + n`; no
/// other thread accesses the m×n elements of C addressed during the call.
#[allow(clippy::too_many_arguments)]
unsafe fn nn_block(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    nn_block_dispatch(m, n, k, SendPtr(a as *mut f32), ars, acs, SendPtr(b as *mut f32), ldb, SendPtr(c), ldc, accumulate)
}

/// From this many rows of A on, nn_block copies each KC × 64 block of B into
/// a contiguous buffer before using it. B's rows are often a power-of-two
/// stride apart (2048 floats for Gemma's MLP), which maps them onto the same
/// few L1 sets: unpacked, every load of B came from L2. The copy reads and
/// writes each element of B once per m rows; for fewer rows (LoRA's r, the
/// loss's chunks) it cost more than it saved (measured).
const NN_PACK_MIN_M: usize = 48;

/// The body of nn_block at level `S`; as nt_block_generic, it has nn_block's
/// contract and only nn_block (through the dispatcher) and the tests call it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn nn_block_generic<S: Simd>(
    m: usize,
    n: usize,
    k: usize,
    a: SendPtr<f32>,
    ars: usize,
    acs: usize,
    b: SendPtr<f32>,
    ldb: usize,
    c: SendPtr<f32>,
    ldc: usize,
    accumulate: bool,
) {
    let (a, b, c) = (a.0 as *const f32, b.0 as *const f32, c.0);
    let panel = NN_NR * S::LANES;
    // Rows of B no more than a panel apart are contiguous already.
    if m < NN_PACK_MIN_M || ldb <= panel {
        // SAFETY: a and c meet nn_block's contract (its callers'); the block
        // returned for (k0, j) starts at row k0 < k, column j < n of B, and
        // its kc rows of up to n − j columns, ldb apart, lie inside B. S is the
        // level simd_dispatch! checked the CPU runs (Scalar in tests).
        unsafe { nn_panels::<S>(m, n, k, a, ars, acs, |k0, j, _| (b.add(k0 * ldb + j), ldb), c, ldc, accumulate) };
        return;
    }
    // A scratch guard rather than a thread-local's `with` closure: a closure
    // is compiled without this function's target features, and the kernel
    // must stay inlined here.
    let mut buf = super::scratch::take(KC * panel);
    let bp = buf.as_mut_ptr();
    let pack = |k0: usize, j: usize, kc: usize| {
        let w = panel.min(n - j);
        let (l, full) = (S::LANES, w - w % S::LANES);
        for kk in 0..kc {
            // SAFETY: row k0 + kk of B has columns j..j + w (nn_block's
            // contract, w ≤ n − j); the buffer holds KC × panel floats and
            // kk < kc ≤ KC, w ≤ panel; S's instructions are available (as
            // above). Vector copies inlined here: a memcpy call per 256-byte
            // row cost more than the copy.
            unsafe {
                let (src, dst) = (b.add((k0 + kk) * ldb + j), bp.add(kk * w));
                for v in (0..full).step_by(l) {
                    S::store(dst.add(v), S::load(src.add(v)));
                }
                if full < w {
                    S::store_partial(dst.add(full), S::load_partial(src.add(full), w - full), w - full);
                }
            }
        }
        (bp as *const f32, w)
    };
    // SAFETY: a and c as above; `pack` returns the buffer holding the kc × w
    // block just copied, at stride w, valid until its next call (nn_panels
    // asks for the next block only after it is done with this one).
    unsafe { nn_panels::<S>(m, n, k, a, ars, acs, pack, c, ldc, accumulate) };
}

/// The k-blocked loop of nn_block over column panels of up to NN_NR vectors.
/// `block(k0, j, kc)` gives the KC × panel block of B starting at row k0,
/// column j, and its row stride.
///
/// # Safety
/// `a` and `c` as in [`nn_block`]; each `block(k0, j, kc)` returns a pointer
/// valid for reads of `kc` rows of `min(NN_NR·LANES, n − j)` f32 at the
/// returned stride, until the next call of `block`; S's instructions are
/// available (the `Simd` contract).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn nn_panels<S: Simd>(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    block: impl Fn(usize, usize, usize) -> (*const f32, usize),
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    let l = S::LANES;
    let panel = NN_NR * l;
    let mut k0 = 0;
    loop {
        let kc = KC.min(k - k0);
        let acc = accumulate || k0 > 0;
        for j0 in (0..n).step_by(panel) {
            let (bb, ldb) = block(k0, j0, kc);
            let j1 = (j0 + panel).min(n);
            let mut j = j0;
            while j < j1 {
                // The widest register tile that fits the columns left: 4, 2 or
                // 1 vectors (narrow matrices such as LoRA's r = 16 columns stay
                // register-blocked), then one masked vector.
                let nv = (j1 - j) / l;
                let nv = if nv >= 4 {
                    4
                } else if nv >= 2 {
                    2
                } else {
                    nv
                };
                let nc = if nv > 0 { nv * l } else { j1 - j };
                let mut i = 0;
                while i < m {
                    let mr = NN_MR.min(m - i);
                    let (ap, bp, cp) = (a.add(i * ars + k0 * acs), bb.add(j - j0), c.add(i * ldc + j));
                    macro_rules! tile {
                        ($($mr:literal),*) => {
                            match (mr, nv) {
                                $(($mr, 4) => nn_tile::<S, $mr, 4>(kc, ap, ars, acs, bp, ldb, cp, ldc, acc),
                                  ($mr, 2) => nn_tile::<S, $mr, 2>(kc, ap, ars, acs, bp, ldb, cp, ldc, acc),
                                  ($mr, 1) => nn_tile::<S, $mr, 1>(kc, ap, ars, acs, bp, ldb, cp, ldc, acc),
                                  ($mr, 0) => nn_tile_tail::<S, $mr>(nc, kc, ap, ars, acs, bp, ldb, cp, ldc, acc),)*
                                _ => unreachable!("mr ≤ NN_MR, nv ≤ 4"),
                            }
                        };
                    }
                    tile!(6, 5, 4, 3, 2, 1);
                    i += mr;
                }
                j += nc;
            }
        }
        k0 += kc;
        if k0 >= k {
            break;
        }
    }
}

/// MR rows × NR vectors of C: broadcast A(i, kk), multiply a row of B.
///
/// # Safety
/// `a.add(i·ars + kk·acs)` is readable for i < MR, kk < kc; `b` is valid for
/// reads of `kc` rows of NR·LANES f32, `ldb` apart; `c` for reads and writes
/// of MR rows of NR·LANES, `ldc` apart; S's instructions are available.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn nn_tile<S: Simd, const MR: usize, const NR: usize>(
    kc: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    let l = S::LANES;
    let mut acc = [[S::zero(); NR]; MR];
    if accumulate {
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = S::load(c.add(i * ldc + j * l));
            }
        }
    }
    for kk in 0..kc {
        let mut bv = [S::zero(); NR];
        for (j, v) in bv.iter_mut().enumerate() {
            *v = S::load(b.add(kk * ldb + j * l));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let av = S::splat(*a.add(i * ars + kk * acs));
            for j in 0..NR {
                row[j] = S::fma(av, bv[j], row[j]);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            S::store(c.add(i * ldc + j * l), *v);
        }
    }
}

/// The last `nc < LANES` columns: MR rows of one masked vector.
///
/// # Safety
/// `nc < LANES`; otherwise as [`nn_tile`] with rows of `nc` f32 in B and C.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn nn_tile_tail<S: Simd, const MR: usize>(
    nc: usize,
    kc: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    let mut acc = [S::zero(); MR];
    if accumulate {
        for (i, v) in acc.iter_mut().enumerate() {
            *v = S::load_partial(c.add(i * ldc), nc);
        }
    }
    for kk in 0..kc {
        let bv = S::load_partial(b.add(kk * ldb), nc);
        for (i, v) in acc.iter_mut().enumerate() {
            *v = S::fma(S::splat(*a.add(i * ars + kk * acs)), bv, *v);
        }
    }
    for (i, v) in acc.iter().enumerate() {
        S::store_partial(c.add(i * ldc), *v, nc);
    }
}

/// Σ x[i]·y[i], vectorised (the best level at run time).
pub fn dot(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len());
    dot_dispatch(x, y)
}
crate::simd_dispatch!(fn dot_dispatch(x: &[f32], y: &[f32]) -> f32 => dot_kernel);
#[inline(always)]
fn dot_kernel<S: Simd>(x: &[f32], y: &[f32]) -> f32 {
    // SAFETY: both slices hold at least min(len) values (`dot` also asserts
    // equal lengths); S is the level simd_dispatch! checked the CPU runs.
    unsafe { dot_raw::<S>(x.as_ptr(), y.as_ptr(), x.len().min(y.len())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;

    fn rand_vec(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
    }

    fn naive(m: usize, n: usize, k: usize, at: impl Fn(usize, usize) -> f32, bt: impl Fn(usize, usize) -> f32) -> Vec<f64> {
        let mut c = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|kk| at(i, kk) as f64 * bt(kk, j) as f64).sum();
            }
        }
        c
    }

    fn assert_close(got: &[f32], want: &[f64], k: usize, what: &str) {
        // f32 accumulation of k products of values in [-1, 1]: error grows like sqrt(k)·eps.
        let tol = 1e-6 * (k as f64).sqrt() * 4.0 + 1e-6;
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!((g as f64 - w).abs() <= tol, "{what}: element {i}: {g} vs {w}");
        }
    }

    #[test]
    fn all_shapes_match_naive() {
        let mut rng = Rng::new(1);
        for &(m, n, k) in &[(1, 1, 1), (7, 5, 3), (13, 37, 300), (6, 64, 16), (64, 70, 513), (3, 200, 640), (100, 9, 33), (50, 300, 260)] {
            let a = rand_vec(&mut rng, m * k);
            let b_nt = rand_vec(&mut rng, n * k);
            let b_nn = rand_vec(&mut rng, k * n);
            let a_t = rand_vec(&mut rng, k * m);
            let c0 = rand_vec(&mut rng, m * n);

            let want = naive(m, n, k, |i, kk| a[i * k + kk], |kk, j| b_nt[j * k + kk]);
            let mut c = vec![0f32; m * n];
            gemm_nt(m, n, k, &a, k, &b_nt, k, &mut c, n, false);
            assert_close(&c, &want, k, "nt");
            let mut c = c0.clone();
            gemm_nt(m, n, k, &a, k, &b_nt, k, &mut c, n, true);
            let want_acc: Vec<f64> = want.iter().zip(&c0).map(|(w, c)| w + *c as f64).collect();
            assert_close(&c, &want_acc, k, "nt acc");

            let want = naive(m, n, k, |i, kk| a[i * k + kk], |kk, j| b_nn[kk * n + j]);
            let mut c = vec![0f32; m * n];
            gemm_nn(m, n, k, &a, k, &b_nn, n, &mut c, n, false);
            assert_close(&c, &want, k, "nn");
            let mut c = c0.clone();
            gemm_nn(m, n, k, &a, k, &b_nn, n, &mut c, n, true);
            let want_acc: Vec<f64> = want.iter().zip(&c0).map(|(w, c)| w + *c as f64).collect();
            assert_close(&c, &want_acc, k, "nn acc");

            let want = naive(m, n, k, |i, kk| a_t[kk * m + i], |kk, j| b_nn[kk * n + j]);
            let mut c = vec![0f32; m * n];
            gemm_tn(m, n, k, &a_t, m, &b_nn, n, &mut c, n, false);
            assert_close(&c, &want, k, "tn");
        }
    }

    #[test]
    fn strided_views() {
        // Operate on a sub-block of bigger matrices (leading dimensions > widths).
        let mut rng = Rng::new(2);
        let (m, n, k, lda, ldb, ldc) = (9, 11, 40, 50, 45, 20);
        let a = rand_vec(&mut rng, m * lda);
        let b = rand_vec(&mut rng, n * ldb);
        let mut c = vec![7f32; m * ldc];
        gemm_nt(m, n, k, &a, lda, &b, ldb, &mut c, ldc, false);
        let want = naive(m, n, k, |i, kk| a[i * lda + kk], |kk, j| b[j * ldb + kk]);
        for i in 0..m {
            assert_close(&c[i * ldc..i * ldc + n], &want[i * n..(i + 1) * n], k, "strided");
            assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|&x| x == 7.0), "wrote outside C");
        }
    }

    #[test]
    fn portable_fallback_matches_naive() {
        // The dispatched tests above run the best level of this CPU; check the fallback too.
        let mut rng = Rng::new(4);
        // m ≥ NN_PACK_MIN_M and rows of B wider than a panel: the packed path.
        let (m, n, k) = (50, 70, 300);
        let a = rand_vec(&mut rng, m * k);
        let b = rand_vec(&mut rng, n * k);
        let mut c = vec![0f32; m * n];
        nt_block_generic::<crate::cpu::simd::Scalar>(
            m,
            n,
            k,
            SendPtr(a.as_ptr() as *mut f32),
            k,
            SendPtr(b.as_ptr() as *mut f32),
            k,
            SendPtr(c.as_mut_ptr()),
            n,
            false,
        );
        assert_close(&c, &naive(m, n, k, |i, kk| a[i * k + kk], |kk, j| b[j * k + kk]), k, "nt scalar");
        let mut c = vec![0f32; m * n];
        nn_block_generic::<crate::cpu::simd::Scalar>(
            m,
            n,
            k,
            SendPtr(a.as_ptr() as *mut f32),
            k,
            1,
            SendPtr(b.as_ptr() as *mut f32),
            n,
            SendPtr(c.as_mut_ptr()),
            n,
            false,
        );
        assert_close(&c, &naive(m, n, k, |i, kk| a[i * k + kk], |kk, j| b[kk * n + j]), k, "nn scalar");
    }

    /// k = 0: C = 0 (or unchanged when accumulating) with empty A and B, and
    /// no pointer is offset past them (the kernels need k > 0).
    #[test]
    fn empty_inner_dimension() {
        let mut c = vec![7f32; 6];
        gemm_nt(2, 3, 0, &[], 0, &[], 0, &mut c, 3, true);
        assert_eq!(c, vec![7.0; 6]);
        gemm_nt(2, 3, 0, &[], 0, &[], 0, &mut c, 3, false);
        assert_eq!(c, vec![0.0; 6]);
        let mut c = vec![7f32; 6];
        gemm_nn(2, 3, 0, &[], 0, &[], 3, &mut c, 3, false);
        assert_eq!(c, vec![0.0; 6]);
        let mut c = vec![7f32; 6];
        gemm_tn(2, 3, 0, &[], 2, &[], 3, &mut c, 3, true);
        assert_eq!(c, vec![7.0; 6]);
    }

    #[test]
    fn dot_matches() {
        let mut rng = Rng::new(3);
        for n in [0, 1, 15, 16, 17, 64, 100, 1000] {
            let x = rand_vec(&mut rng, n);
            let y = rand_vec(&mut rng, n);
            let want: f64 = x.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!((dot(&x, &y) as f64 - want).abs() < 1e-5, "n={n}");
        }
    }
}
