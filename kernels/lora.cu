// LoRA as src/ops/lora.rs computes it, in f32 on CUDA cores (the rank is
// small, so the work is memory-bound, not MMA-bound):
//
//   forward   h = drop(x)·Aᵀ [m, r];  y += s · h·Bᵀ                       lora_fwd
//   backward  dh = s · dy·B [m, r];   dx += drop'(dh·A)                   lora_bwd_dx
//             dB += s · dyᵀ·h [out, r];  dA += dhᵀ·drop(x) [r, in]        lora_outer (twice)
//
// A is [r, in], B is [out, r], row-major. The dropout mask is regenerated from
// (key, row·in + col) exactly as the CPU does, so nothing is stored.
// lora_fwd and lora_bwd_dx are fused: a block keeps its 16 rows of h (or dh)
// in shared memory between the two products. Rank at most 256.

#include "common.cuh"

// Sizes: src/cuda/tiles.rs, passed as -D defines.
#define TM DYAG_LORA_TM        // rows of x per block
#define TK DYAG_LORA_TK        // reduction chunk over `in` (forward) or `out` (backward)
#define THREADS DYAG_THREADS
#define MAX_RANK DYAG_LORA_MAX_RANK
#define OUTER_RANKS DYAG_LORA_OUTER_RANKS

// hs[i][j] = Σ_k src[i][k] · mat[j][k] over k < n_red, for the block's TM rows;
// src rows are scaled by the dropout mask when p > 0 (mask index row·n_red + k).
// mat is [r, n_red] row-major (A, forward), or [n_red, r] when `mat_t` (B,
// backward: element (j, k) is mat[k·r + j]); shared chunks are padded by one.
__device__ void rows_times_matT(const float* __restrict__ src, int lds, const float* __restrict__ mat, bool mat_t, int r, int n_red, int row0,
                                int m, float drop_p, u64 drop_key, float scale, float* hs) {
    __shared__ float xs[TM][TK + 1];
    __shared__ float ms[32][TK + 1];
    const int tid = threadIdx.x;
    for (int o = tid; o < TM * r; o += THREADS) hs[o] = 0.f;
    for (int j0 = 0; j0 < r; j0 += 32) {          // rank slices of 32
        int jr = min(32, r - j0);
        // Each thread owns outputs (i, j) = (o / 32, o % 32) for o = tid, tid+256 (TM·32 = 512 outputs).
        float acc[2] = {0.f, 0.f};
        for (int k0 = 0; k0 < n_red; k0 += TK) {
            __syncthreads();
            for (int e = tid; e < TM * TK; e += THREADS) {
                int i = e / TK, k = e % TK, gr = row0 + i, gk = k0 + k;
                float v = 0.f;
                if (gr < m && gk < n_red) {
                    v = src[(long long)gr * lds + gk];
                    if (drop_p > 0.f) v *= dropout_keep_scale(drop_key, (u64)gr * (u64)n_red + (u64)gk, drop_p);
                }
                xs[i][k] = v;
            }
            for (int e = tid; e < 32 * TK; e += THREADS) {
                int j = e / TK, k = e % TK, gk = k0 + k;
                float v = 0.f;
                if (j < jr && gk < n_red) v = mat_t ? mat[(long long)gk * r + j0 + j] : mat[(long long)(j0 + j) * n_red + gk];
                ms[j][k] = v;
            }
            __syncthreads();
#pragma unroll
            for (int q = 0; q < 2; q++) {
                int o = tid + q * THREADS, i = o >> 5, j = o & 31;
                float s = acc[q];
                for (int k = 0; k < TK; k++) s += xs[i][k] * ms[j][k];
                acc[q] = s;
            }
        }
#pragma unroll
        for (int q = 0; q < 2; q++) {
            int o = tid + q * THREADS, i = o >> 5, j = o & 31;
            if (j < jr) hs[i * r + j0 + j] = acc[q] * scale;
        }
    }
    __syncthreads();
}

// y[m, out] += s · h·Bᵀ and h[m, r] = drop(x)·Aᵀ. Grid: ceil(m/16) blocks of 256.
extern "C" __global__ void __launch_bounds__(THREADS) lora_fwd(const float* __restrict__ x, int ldx, const float* __restrict__ a,
                                                               const float* __restrict__ b, float* __restrict__ h, float* __restrict__ y,
                                                               int ldy, int m, int in_f, int out_f, int r, float s, float drop_p,
                                                               u64 drop_key) {
    __shared__ float hs[TM * MAX_RANK];
    const int row0 = blockIdx.x * TM;
    rows_times_matT(x, ldx, a, false, r, in_f, row0, m, drop_p, drop_key, 1.f, hs);
    for (int e = threadIdx.x; e < TM * r; e += THREADS) {
        int i = e / r, gr = row0 + i;
        if (gr < m) h[(long long)gr * r + e % r] = hs[e];
    }
    // y[i][n] += s · Σ_j hs[i][j] · B[n][j]: one output column per thread, TM rows at once.
    for (int n = threadIdx.x; n < out_f; n += THREADS) {
        float acc[TM];
#pragma unroll
        for (int i = 0; i < TM; i++) acc[i] = 0.f;
        const float* brow = b + (long long)n * r;
        for (int j = 0; j < r; j++) {
            float bv = brow[j];
#pragma unroll
            for (int i = 0; i < TM; i++) acc[i] += hs[i * r + j] * bv;
        }
#pragma unroll
        for (int i = 0; i < TM; i++) {
            int gr = row0 + i;
            if (gr < m) y[(long long)gr * ldy + n] += acc[i] * s;
        }
    }
}

// dh[m, r] = s · dy·B and dx[m, in] += drop'(dh·A). Grid: ceil(m/16) blocks of 256.
extern "C" __global__ void __launch_bounds__(THREADS) lora_bwd_dx(const float* __restrict__ dy, int lddy, const float* __restrict__ a,
                                                                  const float* __restrict__ b, float* __restrict__ dh,
                                                                  float* __restrict__ dx, int lddx, int m, int in_f, int out_f, int r,
                                                                  float s, float drop_p, u64 drop_key) {
    __shared__ float hs[TM * MAX_RANK];
    const int row0 = blockIdx.x * TM;
    // dh[i][j] = s · Σ_n dy[i][n] · B[n][j]
    rows_times_matT(dy, lddy, b, true, r, out_f, row0, m, 0.f, 0, s, hs);
    for (int e = threadIdx.x; e < TM * r; e += THREADS) {
        int i = e / r, gr = row0 + i;
        if (gr < m) dh[(long long)gr * r + e % r] = hs[e];
    }
    // dx[i][k] += mask(i, k) · Σ_j hs[i][j] · A[j][k]: one input column per thread.
    for (int k = threadIdx.x; k < in_f; k += THREADS) {
        float acc[TM];
#pragma unroll
        for (int i = 0; i < TM; i++) acc[i] = 0.f;
        for (int j = 0; j < r; j++) {
            float av = a[(long long)j * in_f + k];
#pragma unroll
            for (int i = 0; i < TM; i++) acc[i] += hs[i * r + j] * av;
        }
#pragma unroll
        for (int i = 0; i < TM; i++) {
            int gr = row0 + i;
            if (gr >= m) continue;
            float v = acc[i];
            if (drop_p > 0.f) v *= dropout_keep_scale(drop_key, (u64)gr * (u64)in_f + (u64)k, drop_p);
            dx[(long long)gr * lddx + k] += v;
        }
    }
}

// out[j·sj + c·sc] += alpha · Σ_i p[i][j] · q'[i][c] over the m rows, with
// q'[i][c] = q[i][c] · mask(i·ncols + c) when drop_p > 0.
//   dB: p = h [m, r], q = dy [m, out], out = dB (sj = 1, sc = r), alpha = s
//   dA: p = dh [m, r], q = x [m, in],  out = dA (sj = in, sc = 1), alpha = 1, with dropout
// Grid: (ceil(ncols/THREADS), ceil(r/OUTER_RANKS)); each thread owns one column c and OUTER_RANKS ranks.
extern "C" __global__ void __launch_bounds__(THREADS) lora_outer(const float* __restrict__ p, const float* __restrict__ q, int ldq,
                                                                 float* __restrict__ out, int sj, int sc, int m, int ncols, int r,
                                                                 float alpha, float drop_p, u64 drop_key) {
    __shared__ float ps[64][OUTER_RANKS];
    const int c = blockIdx.x * THREADS + threadIdx.x;
    const int j0 = blockIdx.y * OUTER_RANKS;
    float acc[OUTER_RANKS];
#pragma unroll
    for (int j = 0; j < OUTER_RANKS; j++) acc[j] = 0.f;
    for (int i0 = 0; i0 < m; i0 += 64) {
        __syncthreads();
        for (int e = threadIdx.x; e < 64 * OUTER_RANKS; e += THREADS) {
            int i = e / OUTER_RANKS, j = e % OUTER_RANKS;
            ps[i][j] = (i0 + i < m && j0 + j < r) ? p[(long long)(i0 + i) * r + j0 + j] : 0.f;
        }
        __syncthreads();
        if (c < ncols) {
            int iend = min(64, m - i0);
            for (int i = 0; i < iend; i++) {
                float qv = q[(long long)(i0 + i) * ldq + c];
                if (drop_p > 0.f) qv *= dropout_keep_scale(drop_key, (u64)(i0 + i) * (u64)ncols + (u64)c, drop_p);
#pragma unroll
                for (int j = 0; j < OUTER_RANKS; j++) acc[j] += ps[i][j] * qv;
            }
        }
    }
    if (c < ncols) {
#pragma unroll
        for (int j = 0; j < OUTER_RANKS; j++)
            if (j0 + j < r) out[(long long)(j0 + j) * sj + (long long)c * sc] += alpha * acc[j];
    }
}
