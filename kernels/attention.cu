// Causal grouped-query attention with an optional sliding window, flash-style
// (FlashAttention-2's schedule on CUDA cores, f32 throughout): the forward pass
// keeps a running max and sum per query row (online softmax) and never stores
// the probabilities, only the row's log-sum-exp; the backward pass recomputes
// them tile by tile from Q, K and the saved log-sum-exp.
//
// Semantics of src/ops/attention.rs: query i of a sequence sits at position
// p = p0 + i and sees keys j with j ≤ p and, with a window w, j > p − w; query
// head h reads KV head h / group; S = scale·Q·Kᵀ, P = softmax(S), O = P·V;
// dS = P ⊙ (dP − D) · scale with D_i = Σ_j P_ij dP_ij = dO_i · O_i.
//
// Layouts (all f32): Q, O, dQ, dO are [rows, ld] with head h at column h·d;
// K, V, dK, dV address key j of KV head g at base + g·head_stride + (k_start + j)·ld
// (token-major: head_stride = d, ld = n_kv·d; the KV cache: head_stride = cap·d, ld = d).
// `seqs` holds 4 ints per sequence: first query row, number of queries, row of
// key 0, position of the first query (keys before it are cached). LSE and D are
// [n_heads, lse_ld] indexed by query row.
//
// Head dimension d ≤ 256; each lane owns dimensions lane + 32·c for c < DC =
// ⌈d/32⌉ (a template parameter, so accumulators stay in registers). Shared memory is dynamic (the
// launcher raises the per-function limit): at d = 256 the largest kernel uses
// 98.7 KB, within the 99 KB of sm_86/sm_89 and the 163/227 KB of sm_80/sm_90.

#include "common.cuh"

// Tile sizes: src/cuda/tiles.rs, passed as -D defines.
#define THREADS DYAG_THREADS
// The entries below instantiate DC = 1..8: head dimensions up to 8 × 32.
static_assert(DYAG_ATTN_MAX_HEAD_DIM == 8 * 32, "attention.cu instantiates DC = 1..8");
static_assert(DYAG_ATTN_DOT_HEADS * 32 == THREADS, "attn_bwd_dot: one warp per head");

struct Seq {
    int q_start, n_q, k_start, p0;
};

__device__ __forceinline__ Seq load_seq(const int* seqs, int s) {
    Seq q;
    q.q_start = seqs[4 * s];
    q.n_q = seqs[4 * s + 1];
    q.k_start = seqs[4 * s + 2];
    q.p0 = seqs[4 * s + 3];
    return q;
}

__device__ __forceinline__ bool visible(int j, int p, int window) { return j <= p && (window == 0 || j + window > p); }

// rows × d values from `src` (row r at src + r·ld) into shared [rows][lds]; zero past `valid` rows.
__device__ __forceinline__ void load_rows(float* dst, int lds, const float* __restrict__ src, long long ld, int rows, int valid, int d) {
    for (int e = threadIdx.x; e < rows * d; e += THREADS) {
        int r = e / d, c = e % d;
        dst[r * lds + c] = r < valid ? src[(long long)r * ld + c] : 0.f;
    }
}

__device__ __forceinline__ float dot_shared(const float* a, const float* b, int d) {
    float s = 0.f;
    for (int c = 0; c < d; c++) s += a[c] * b[c];
    return s;
}

// ---- forward -------------------------------------------------------------------
// Grid (ceil(max n_q / 32), n_heads, n_seqs). Each warp owns 4 query rows; in the
// score phase lane = key of the 32-key tile, in the P·V phase lane = dimension.

#define FQ DYAG_ATTN_FQ
#define FK DYAG_ATTN_FK

template <int DC>
__device__ void attn_fwd_impl(const float* __restrict__ q, int ldq, const float* __restrict__ k, int ldk, long long khs,
                              const float* __restrict__ v, int ldv, long long vhs, float* __restrict__ o, int ldo, float* __restrict__ lse,
                              int lse_ld, const int* __restrict__ seqs, int group, float scale, int window, int d) {
    const int D = d, LQ = d + 1;
    extern __shared__ float smem[];
    float* Qs = smem;           // [FQ][LQ]
    float* Ks = Qs + FQ * LQ;   // [FK][LQ]
    float* Vs = Ks + FK * LQ;   // [FK][D]
    const Seq sq = load_seq(seqs, blockIdx.z);
    const int head = blockIdx.y, qt = blockIdx.x * FQ;
    if (qt >= sq.n_q) return;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float* kb = k + (long long)(head / group) * khs + (long long)sq.k_start * ldk;
    const float* vb = v + (long long)(head / group) * vhs + (long long)sq.k_start * ldv;
    const int nq_tile = min(FQ, sq.n_q - qt);
    load_rows(Qs, LQ, q + (long long)(sq.q_start + qt) * ldq + head * D, ldq, FQ, nq_tile, D);

    float m[4], l[4], acc[4][DC];
#pragma unroll
    for (int r = 0; r < 4; r++) {
        m[r] = -DYAG_INF;
        l[r] = 0.f;
#pragma unroll
        for (int c = 0; c < DC; c++) acc[r][c] = 0.f;
    }
    const int p_first = sq.p0 + qt, p_last = sq.p0 + qt + nq_tile - 1;
    const int j_lo = window ? max(0, p_first + 1 - window) : 0;
    for (int j0 = j_lo; j0 <= p_last; j0 += FK) {
        const int nk = min(FK, p_last + 1 - j0);
        __syncthreads();
        load_rows(Ks, LQ, kb + (long long)j0 * ldk, ldk, FK, nk, D);
        load_rows(Vs, D, vb + (long long)j0 * ldv, ldv, FK, nk, D);
        __syncthreads();
        const int j = j0 + lane;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int qi = warp * 4 + r, p = sq.p0 + qt + qi;
            float s = dot_shared(&Qs[qi * LQ], &Ks[lane * LQ], D) * scale;
            if (!(qi < nq_tile && lane < nk && visible(j, p, window))) s = -DYAG_INF;
            const float mn = fmaxf(m[r], warp_max(s));
            const float corr = mn == -DYAG_INF ? 1.f : expf(m[r] - mn);
            const float pv = mn == -DYAG_INF ? 0.f : expf(s - mn);
            l[r] = l[r] * corr + warp_sum(pv);
            m[r] = mn;
#pragma unroll
            for (int c = 0; c < DC; c++) acc[r][c] *= corr;
            for (int kk = 0; kk < FK; kk++) {
                const float pk = __shfl_sync(0xffffffffu, pv, kk);
#pragma unroll
                for (int c = 0; c < DC; c++)
                    if (c * 32 + lane < D) acc[r][c] += pk * Vs[kk * D + c * 32 + lane];
            }
        }
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        const int qi = warp * 4 + r;
        if (qi >= nq_tile) continue;
        const long long row = sq.q_start + qt + qi;
        const float inv = 1.f / l[r];
#pragma unroll
        for (int c = 0; c < DC; c++)
            if (c * 32 + lane < D) o[row * ldo + head * D + c * 32 + lane] = acc[r][c] * inv;
        if (lse && lane == 0) lse[(long long)head * lse_ld + row] = m[r] + logf(l[r]);
    }
}

// ---- backward, step 1: D_i = dO_i · O_i per head -----------------------------------
// Grid (rows, ceil(n_heads / 8)); one warp per (row, head).
extern "C" __global__ void attn_bwd_dot(const float* __restrict__ dout, const float* __restrict__ out, int ld, float* __restrict__ dvec,
                                        int lse_ld, int rows, int n_heads, int d) {
    const int row = blockIdx.x, head = blockIdx.y * DYAG_ATTN_DOT_HEADS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows || head >= n_heads) return;
    const float* a = dout + (long long)row * ld + head * d;
    const float* b = out + (long long)row * ld + head * d;
    float s = 0.f;
    for (int c = lane; c < d; c += 32) s += a[c] * b[c];
    s = warp_sum(s);
    if (lane == 0) dvec[(long long)head * lse_ld + row] = s;
}

// ---- backward, step 2: dK, dV for a tile of 16 keys of one KV head ------------------
// Grid (ceil(max keys / 16), n_kv_heads, n_seqs). Loops over the heads of the
// group and the query rows that see the tile, 16 at a time: phase A gives each
// thread one (query, key) pair of P and dS, phase B gives each warp two keys
// and each lane DC dimensions of dK and dV.

#define BKT DYAG_ATTN_BKT
#define BQT DYAG_ATTN_BQT

template <int DC>
__device__ void attn_bwd_dkdv_impl(const float* __restrict__ q, int ldq, const float* __restrict__ k, int ldk, long long khs,
                                   const float* __restrict__ v, int ldv, long long vhs, const float* __restrict__ dout, int lddo,
                                   const float* __restrict__ lse, const float* __restrict__ dvec, int lse_ld, float* __restrict__ dk,
                                   float* __restrict__ dv, const int* __restrict__ seqs, int group, float scale, int window, int d) {
    const int D = d, LQ = d + 1;
    extern __shared__ float smem[];
    float* Qs = smem;             // [BQT][LQ]
    float* dOs = Qs + BQT * LQ;   // [BQT][LQ]
    float* Ks = dOs + BQT * LQ;   // [BKT][LQ]
    float* Vs = Ks + BKT * LQ;    // [BKT][LQ]
    float* Ps = Vs + BKT * LQ;    // [BQT][BKT + 1]
    float* dSs = Ps + BQT * (BKT + 1);
    float* Ls = dSs + BQT * (BKT + 1);  // [BQT]
    float* Ds = Ls + BQT;               // [BQT]
    const Seq sq = load_seq(seqs, blockIdx.z);
    const int kvh = blockIdx.y, kt = blockIdx.x * BKT, n_keys = sq.p0 + sq.n_q;
    if (kt >= n_keys) return;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nk = min(BKT, n_keys - kt);
    load_rows(Ks, LQ, k + kvh * khs + (long long)(sq.k_start + kt) * ldk, ldk, BKT, nk, D);
    load_rows(Vs, LQ, v + kvh * vhs + (long long)(sq.k_start + kt) * ldv, ldv, BKT, nk, D);
    float dK[2][DC], dV[2][DC];
#pragma unroll
    for (int a = 0; a < 2; a++)
#pragma unroll
        for (int c = 0; c < DC; c++) dK[a][c] = dV[a][c] = 0.f;

    // Query positions that see at least one key of [kt, kt + nk).
    const int p_min = max(sq.p0, kt);
    int p_max = n_keys - 1;
    if (window) p_max = min(p_max, kt + nk - 1 + window - 1);
    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        for (int i0 = p_min - sq.p0; i0 <= p_max - sq.p0; i0 += BQT) {
            const int nq = min(BQT, p_max - sq.p0 + 1 - i0);
            __syncthreads();
            const long long row0 = sq.q_start + i0;
            load_rows(Qs, LQ, q + row0 * ldq + h * D, ldq, BQT, nq, D);
            load_rows(dOs, LQ, dout + row0 * lddo + h * D, lddo, BQT, nq, D);
            if (threadIdx.x < BQT) {
                const int t = threadIdx.x;
                Ls[t] = t < nq ? lse[(long long)h * lse_ld + row0 + t] : 0.f;
                Ds[t] = t < nq ? dvec[(long long)h * lse_ld + row0 + t] : 0.f;
            }
            __syncthreads();
            {  // phase A: one (query, key) pair per thread
                const int qi = threadIdx.x >> 4, kj = threadIdx.x & 15;
                const int p = sq.p0 + i0 + qi, j = kt + kj;
                float pv = 0.f, ds = 0.f;
                if (qi < nq && kj < nk && visible(j, p, window)) {
                    const float s = dot_shared(&Qs[qi * LQ], &Ks[kj * LQ], D) * scale;
                    const float dp = dot_shared(&dOs[qi * LQ], &Vs[kj * LQ], D);
                    pv = expf(s - Ls[qi]);
                    ds = pv * (dp - Ds[qi]) * scale;
                }
                Ps[qi * (BKT + 1) + kj] = pv;
                dSs[qi * (BKT + 1) + kj] = ds;
            }
            __syncthreads();
            // phase B: dV += Pᵀ·dO, dK += dSᵀ·Q for this warp's two keys
            for (int qi = 0; qi < nq; qi++) {
#pragma unroll
                for (int a = 0; a < 2; a++) {
                    const int kj = warp * 2 + a;
                    const float pv = Ps[qi * (BKT + 1) + kj], ds = dSs[qi * (BKT + 1) + kj];
#pragma unroll
                    for (int c = 0; c < DC; c++) {
                        if (c * 32 + lane >= D) continue;
                        dV[a][c] += pv * dOs[qi * LQ + c * 32 + lane];
                        dK[a][c] += ds * Qs[qi * LQ + c * 32 + lane];
                    }
                }
            }
        }
    }
#pragma unroll
    for (int a = 0; a < 2; a++) {
        const int kj = warp * 2 + a;
        if (kj >= nk) continue;
        const long long at = kvh * khs + (long long)(sq.k_start + kt + kj) * ldk;
        const long long av = kvh * vhs + (long long)(sq.k_start + kt + kj) * ldv;
#pragma unroll
        for (int c = 0; c < DC; c++) {
            if (c * 32 + lane >= D) continue;
            dk[at + c * 32 + lane] = dK[a][c];
            dv[av + c * 32 + lane] = dV[a][c];
        }
    }
}

// ---- backward, step 3: dQ for a tile of 16 query rows of one head ------------------
// Grid (ceil(max n_q / 16), n_heads, n_seqs). Each warp owns two rows; lane = key
// while P and dS are recomputed, lane = dimension while dS·K is accumulated.

#define QQT DYAG_ATTN_QQT
#define QKT DYAG_ATTN_QKT

template <int DC>
__device__ void attn_bwd_dq_impl(const float* __restrict__ q, int ldq, const float* __restrict__ k, int ldk, long long khs,
                                 const float* __restrict__ v, int ldv, long long vhs, const float* __restrict__ dout, int lddo,
                                 const float* __restrict__ lse, const float* __restrict__ dvec, int lse_ld, float* __restrict__ dq,
                                 const int* __restrict__ seqs, int group, float scale, int window, int d) {
    const int D = d, LQ = d + 1;
    extern __shared__ float smem[];
    float* Qs = smem;             // [QQT][LQ]
    float* dOs = Qs + QQT * LQ;   // [QQT][LQ]
    float* Ks = dOs + QQT * LQ;   // [QKT][LQ]
    float* Vs = Ks + QKT * LQ;    // [QKT][LQ]
    const Seq sq = load_seq(seqs, blockIdx.z);
    const int head = blockIdx.y, qt = blockIdx.x * QQT;
    if (qt >= sq.n_q) return;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nq = min(QQT, sq.n_q - qt);
    const long long row0 = sq.q_start + qt;
    load_rows(Qs, LQ, q + row0 * ldq + head * D, ldq, QQT, nq, D);
    load_rows(dOs, LQ, dout + row0 * lddo + head * D, lddo, QQT, nq, D);
    const float* kb = k + (long long)(head / group) * khs + (long long)sq.k_start * ldk;
    const float* vb = v + (long long)(head / group) * vhs + (long long)sq.k_start * ldv;
    float L[2], Dv[2], acc[2][DC];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int qi = warp * 2 + r;
        L[r] = qi < nq ? lse[(long long)head * lse_ld + row0 + qi] : 0.f;
        Dv[r] = qi < nq ? dvec[(long long)head * lse_ld + row0 + qi] : 0.f;
#pragma unroll
        for (int c = 0; c < DC; c++) acc[r][c] = 0.f;
    }
    const int p_first = sq.p0 + qt, p_last = sq.p0 + qt + nq - 1;
    const int j_lo = window ? max(0, p_first + 1 - window) : 0;
    for (int j0 = j_lo; j0 <= p_last; j0 += QKT) {
        const int nk = min(QKT, p_last + 1 - j0);
        __syncthreads();
        load_rows(Ks, LQ, kb + (long long)j0 * ldk, ldk, QKT, nk, D);
        load_rows(Vs, LQ, vb + (long long)j0 * ldv, ldv, QKT, nk, D);
        __syncthreads();
        const int j = j0 + lane;
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int qi = warp * 2 + r, p = sq.p0 + qt + qi;
            float ds = 0.f;
            if (qi < nq && lane < nk && visible(j, p, window)) {
                const float s = dot_shared(&Qs[qi * LQ], &Ks[lane * LQ], D) * scale;
                const float dp = dot_shared(&dOs[qi * LQ], &Vs[lane * LQ], D);
                const float pv = expf(s - L[r]);
                ds = pv * (dp - Dv[r]) * scale;
            }
            for (int kk = 0; kk < QKT; kk++) {
                const float dsk = __shfl_sync(0xffffffffu, ds, kk);
#pragma unroll
                for (int c = 0; c < DC; c++)
                    if (c * 32 + lane < D) acc[r][c] += dsk * Ks[kk * LQ + c * 32 + lane];
            }
        }
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int qi = warp * 2 + r;
        if (qi >= nq) continue;
#pragma unroll
        for (int c = 0; c < DC; c++)
            if (c * 32 + lane < D) dq[(row0 + qi) * ldq + head * D + c * 32 + lane] = acc[r][c];
    }
}

// ---- entry points, one per head dimension (attn_*_d{32·DC}) -------------------------

#define ATTN_ENTRIES(DC)                                                                                                                    \
    extern "C" __global__ void __launch_bounds__(THREADS)                                                                                  \
        attn_fwd_d##DC(const float* q, int ldq, const float* k, int ldk, long long khs, const float* v, int ldv, long long vhs, float* o,  \
                       int ldo, float* lse, int lse_ld, const int* seqs, int group, float scale, int window, int d) {                              \
        attn_fwd_impl<DC>(q, ldq, k, ldk, khs, v, ldv, vhs, o, ldo, lse, lse_ld, seqs, group, scale, window, d);                               \
    }                                                                                                                                       \
    extern "C" __global__ void __launch_bounds__(THREADS)                                                                                  \
        attn_bwd_dkdv_d##DC(const float* q, int ldq, const float* k, int ldk, long long khs, const float* v, int ldv, long long vhs,       \
                            const float* dout, int lddo, const float* lse, const float* dvec, int lse_ld, float* dk, float* dv,           \
                            const int* seqs, int group, float scale, int window, int d) {                                                   \
        attn_bwd_dkdv_impl<DC>(q, ldq, k, ldk, khs, v, ldv, vhs, dout, lddo, lse, dvec, lse_ld, dk, dv, seqs, group, scale, window, d);       \
    }                                                                                                                                       \
    extern "C" __global__ void __launch_bounds__(THREADS)                                                                                  \
        attn_bwd_dq_d##DC(const float* q, int ldq, const float* k, int ldk, long long khs, const float* v, int ldv, long long vhs,         \
                          const float* dout, int lddo, const float* lse, const float* dvec, int lse_ld, float* dq, const int* seqs,       \
                          int group, float scale, int window, int d) {                                                                      \
        attn_bwd_dq_impl<DC>(q, ldq, k, ldk, khs, v, ldv, vhs, dout, lddo, lse, dvec, lse_ld, dq, seqs, group, scale, window, d);             \
    }

ATTN_ENTRIES(1)
ATTN_ENTRIES(2)
ATTN_ENTRIES(3)
ATTN_ENTRIES(4)
ATTN_ENTRIES(5)
ATTN_ENTRIES(6)
ATTN_ENTRIES(7)
ATTN_ENTRIES(8)
