// Dequantise-and-multiply on tensor cores, for frozen base weights W [N, K]
// (N output features, K input features, row-major, K a multiple of 64) stored
// either in NF4 (QLoRA: 64-value blocks, absmax scale, optionally double-
// quantised) or in bf16:
//
//   *_xwt : Y[M, N] (+)= X[M, K] · Wᵀ (+ bias)        the forward pass
//   *_dyw : DX[M, K] (+)= DY[M, N] · W                 the input gradient
//
// Activations are f32 in global memory; both operands are rounded to bf16
// (round to nearest even) when a tile is staged in shared memory, multiplied
// with mma.sync m16n8k16 and accumulated in f32. A weight is dequantised as
// code[q] · absmax in f32 (bit-identical to src/quant/nf4.rs) before its
// rounding, so a CPU run with Nf4Tensor::dequantize_bf16_rounded() weights and
// bf16-rounded inputs differs from these kernels only in summation order.
//
// Tiling: a block of 256 threads (8 warps, 2 × 4) computes a 64 × 128 output
// tile; the reduction advances 64 at a time (one NF4 block per weight row in
// *_xwt). The next tile is fetched into registers while the current one is
// multiplied (register double buffering); shared rows are padded by 8 bf16 so
// the fragment loads are free of bank conflicts.
//
// Hopper (sm_90) runs these mma.sync kernels unchanged; its faster path would
// be wgmma (warpgroup MMA) fed by TMA bulk copies with the dequantisation in a
// producer warpgroup — not written yet.

#include "common.cuh"

// Tile sizes: src/cuda/tiles.rs, passed as -D defines.
#define BM DYAG_MM_BM
#define BN DYAG_MM_BN
#define BK DYAG_MM_BK
#define LDS (BK + 8)
#define THREADS DYAG_THREADS

__constant__ float NF4_CODE[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

// Where a weight's values come from. Unused pointers are null.
struct WeightSrc {
    const u8* packed;       // NF4 codes, two per byte, first in the high nibble
    const float* absmax;    // one per 64-block (single quantisation), or null
    const u8* qabsmax;      // one per 64-block (double quantisation), or null
    const float* absmax2;   // one per 256 blocks (double quantisation)
    const float* code2;     // the 256-entry dynamic map (double quantisation)
    float offset;           // mean absmax (double quantisation)
    const bf16_t* bf16;     // bf16 weights, or null
};

// The absmax of block b, as Nf4Tensor::absmax computes it (no FMA contraction).
__device__ __forceinline__ float block_absmax(const WeightSrc& w, long long b) {
    if (w.qabsmax) return __fadd_rn(__fmul_rn(w.code2[w.qabsmax[b]], w.absmax2[b >> 8]), w.offset);
    return w.absmax[b];
}

// 8 packed bytes (4 per word, little-endian) → 8 words of bf16 pairs along k.
__device__ __forceinline__ void dequant_word(u32 word, float a, const float* code, u32* out) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
        u32 byte = (word >> (8 * j)) & 0xffu;
        out[j] = pack_bf16x2(__fmul_rn(code[byte >> 4], a), __fmul_rn(code[byte & 15u], a));
    }
}

// ---- the A operand: an f32 tile [BM rows, BK reduction] → bf16 in shared memory

struct ATile {
    float4 r[4];
    // Rows m0.., reduction columns c0..; zero outside [M, C).
    __device__ __forceinline__ void load(const float* __restrict__ a, int lda, int m0, int c0, int M, int C) {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int idx = threadIdx.x + i * THREADS;
            int row = idx >> 4, col = (idx & 15) * 4;
            int gm = m0 + row, gc = c0 + col;
            float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
            if (gm < M) {
                const float* p = a + (long long)gm * lda + gc;
                if (gc + 3 < C) {
                    v = *reinterpret_cast<const float4*>(p);
                } else {
                    if (gc < C) v.x = p[0];
                    if (gc + 1 < C) v.y = p[1];
                    if (gc + 2 < C) v.z = p[2];
                }
            }
            r[i] = v;
        }
    }
    __device__ __forceinline__ void store(bf16_t* As) const {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int idx = threadIdx.x + i * THREADS;
            int row = idx >> 4, col = (idx & 15) * 4;
            uint2 v;
            v.x = pack_bf16x2(r[i].x, r[i].y);
            v.y = pack_bf16x2(r[i].z, r[i].w);
            *reinterpret_cast<uint2*>(&As[row * LDS + col]) = v;
        }
    }
};

// ---- the MMA of one staged tile: As [BM][LDS], Bs [BN][LDS] (B row = output column)

__device__ __forceinline__ void mma_tile(const bf16_t* As, const bf16_t* Bs, float acc[2][4][4]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t4 = lane & 3, wm = warp >> 2, wn = warp & 3;
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
        u32 a[2][4], b[4][2];
#pragma unroll
        for (int mt = 0; mt < 2; mt++) {
            const bf16_t* p = &As[(wm * 32 + mt * 16 + g) * LDS + kk + 2 * t4];
            a[mt][0] = *reinterpret_cast<const u32*>(p);
            a[mt][1] = *reinterpret_cast<const u32*>(p + 8 * LDS);
            a[mt][2] = *reinterpret_cast<const u32*>(p + 8);
            a[mt][3] = *reinterpret_cast<const u32*>(p + 8 * LDS + 8);
        }
#pragma unroll
        for (int nt = 0; nt < 4; nt++) {
            const bf16_t* p = &Bs[(wn * 32 + nt * 8 + g) * LDS + kk + 2 * t4];
            b[nt][0] = *reinterpret_cast<const u32*>(p);
            b[nt][1] = *reinterpret_cast<const u32*>(p + 8);
        }
#pragma unroll
        for (int mt = 0; mt < 2; mt++)
#pragma unroll
            for (int nt = 0; nt < 4; nt++) mma_bf16_16816(acc[mt][nt], a[mt], b[nt]);
    }
}

// Writes the 64 × 128 accumulator tile to C[M, Ncols] (+ bias), or adds it.
__device__ __forceinline__ void store_acc(float acc[2][4][4], float* __restrict__ c, int ldc, int m0, int n0, int M, int Ncols,
                                          const float* __restrict__ bias, int accumulate) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t4 = lane & 3, wm = warp >> 2, wn = warp & 3;
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int nt = 0; nt < 4; nt++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                int row = m0 + wm * 32 + mt * 16 + g + 8 * h;
                if (row >= M) continue;
#pragma unroll
                for (int j = 0; j < 2; j++) {
                    int col = n0 + wn * 32 + nt * 8 + 2 * t4 + j;
                    if (col >= Ncols) continue;
                    float v = acc[mt][nt][2 * h + j];
                    if (bias) v += bias[col];
                    float* dst = c + (long long)row * ldc + col;
                    *dst = accumulate ? *dst + v : v;
                }
            }
}

// ---- forward: Y = X · Wᵀ -------------------------------------------------------

// The weight tile rows n0..n0+BN, reduction columns k0..k0+BK, as Bs[n][k].
template <bool NF4>
struct WTileXwt {
    uint4 r[NF4 ? 1 : 4];
    float a;
    __device__ __forceinline__ void load(const WeightSrc& w, int n0, int k0, int N, int K) {
        if (NF4) {
            int row = threadIdx.x >> 1, half = threadIdx.x & 1, gn = n0 + row;
            r[0] = make_uint4(0, 0, 0, 0);
            a = 0.f;
            if (gn < N) {
                long long e = (long long)gn * K + k0 + half * 32;
                r[0] = *reinterpret_cast<const uint4*>(w.packed + (e >> 1));
                a = block_absmax(w, (long long)gn * (K >> 6) + (k0 >> 6));
            }
        } else {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int idx = threadIdx.x + i * THREADS;
                int row = idx >> 3, col = (idx & 7) * 8, gn = n0 + row;
                r[i] = gn < N ? *reinterpret_cast<const uint4*>(w.bf16 + (long long)gn * K + k0 + col) : make_uint4(0, 0, 0, 0);
            }
        }
    }
    __device__ __forceinline__ void store(bf16_t* Bs, const float* code) const {
        if (NF4) {
            int row = threadIdx.x >> 1, half = threadIdx.x & 1;
            u32 o[16];
            dequant_word(r[0].x, a, code, o);
            dequant_word(r[0].y, a, code, o + 4);
            dequant_word(r[0].z, a, code, o + 8);
            dequant_word(r[0].w, a, code, o + 12);
            uint4* dst = reinterpret_cast<uint4*>(&Bs[row * LDS + half * 32]);
            dst[0] = make_uint4(o[0], o[1], o[2], o[3]);
            dst[1] = make_uint4(o[4], o[5], o[6], o[7]);
            dst[2] = make_uint4(o[8], o[9], o[10], o[11]);
            dst[3] = make_uint4(o[12], o[13], o[14], o[15]);
        } else {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int idx = threadIdx.x + i * THREADS;
                int row = idx >> 3, col = (idx & 7) * 8;
                *reinterpret_cast<uint4*>(&Bs[row * LDS + col]) = r[i];
            }
        }
    }
};

template <bool NF4>
__device__ __forceinline__ void matmul_xwt(const float* __restrict__ x, int ldx, float* __restrict__ y, int ldy, const float* __restrict__ bias,
                                           int M, int N, int K, int accumulate, const WeightSrc& w) {
    __shared__ __align__(16) bf16_t As[BM * LDS];
    __shared__ __align__(16) bf16_t Bs[BN * LDS];
    __shared__ float code[16];
    if (threadIdx.x < 16) code[threadIdx.x] = NF4_CODE[threadIdx.x];
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    float acc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;
    ATile at;
    WTileXwt<NF4> wt;
    at.load(x, ldx, m0, 0, M, K);
    wt.load(w, n0, 0, N, K);
    for (int k0 = 0; k0 < K; k0 += BK) {
        __syncthreads();  // the previous tile is no longer read (and `code` is written)
        at.store(As);
        wt.store(Bs, code);
        __syncthreads();
        if (k0 + BK < K) {  // fetch the next tile while this one is multiplied
            at.load(x, ldx, m0, k0 + BK, M, K);
            wt.load(w, n0, k0 + BK, N, K);
        }
        mma_tile(As, Bs, acc);
    }
    store_acc(acc, y, ldy, m0, n0, M, N, bias, accumulate);
}

// ---- input gradient: DX = DY · W -----------------------------------------------

// Stores bf16 pairs of this lane's weight row r (k = kbase .. kbase + 4·H) into
// Bs[k][n] as (W[r & ~1][k], W[r | 1][k]) pairs, exchanging half of the words
// with the lane holding row r ^ 1 (lane ^ 1). Every lane of the warp must call it.
template <int NW>
__device__ __forceinline__ void store_pairs_transposed(bf16_t* Bs, const u32 (&w)[NW], int r, int kbase) {
    const int H = NW / 2;
    const bool odd = r & 1;
    const int p2 = r & ~1;
    u32 mine[H], other[H];
#pragma unroll
    for (int j = 0; j < H; j++) {
        u32 send = odd ? w[j] : w[H + j];
        other[j] = __shfl_xor_sync(0xffffffffu, send, 1);
        mine[j] = odd ? w[H + j] : w[j];
    }
    const int kb = kbase + (odd ? 2 * H : 0);
#pragma unroll
    for (int j = 0; j < H; j++) {
        u32 even_row = odd ? other[j] : mine[j];
        u32 odd_row = odd ? mine[j] : other[j];
        *reinterpret_cast<u32*>(&Bs[(kb + 2 * j) * LDS + p2]) = (even_row & 0xffffu) | (odd_row << 16);
        *reinterpret_cast<u32*>(&Bs[(kb + 2 * j + 1) * LDS + p2]) = (even_row >> 16) | (odd_row & 0xffff0000u);
    }
}

// The weight tile rows n0..n0+BK (reduction), columns k0..k0+BN (output), as Bs[k][n].
// Adjacent lanes hold adjacent rows so that pairs along n can be formed by a shuffle.
template <bool NF4>
struct WTileDyw {
    uint4 r[NF4 ? 1 : 4];
    float a;
    __device__ __forceinline__ void load(const WeightSrc& w, int n0, int k0, int N, int K) {
        if (NF4) {
            int row = threadIdx.x & 63, q = threadIdx.x >> 6, gn = n0 + row, gk = k0 + q * 32;
            r[0] = make_uint4(0, 0, 0, 0);
            a = 0.f;
            if (gn < N && gk < K) {
                r[0] = *reinterpret_cast<const uint4*>(w.packed + (((long long)gn * K + gk) >> 1));
                a = block_absmax(w, (long long)gn * (K >> 6) + (gk >> 6));
            }
        } else {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int idx = threadIdx.x + i * THREADS;
                int row = idx & 63, q = idx >> 6, gn = n0 + row, gk = k0 + q * 8;
                r[i] = (gn < N && gk < K) ? *reinterpret_cast<const uint4*>(w.bf16 + (long long)gn * K + gk) : make_uint4(0, 0, 0, 0);
            }
        }
    }
    __device__ __forceinline__ void store(bf16_t* Bs, const float* code) const {
        if (NF4) {
            int row = threadIdx.x & 63, q = threadIdx.x >> 6;
            u32 o[16];
            dequant_word(r[0].x, a, code, o);
            dequant_word(r[0].y, a, code, o + 4);
            dequant_word(r[0].z, a, code, o + 8);
            dequant_word(r[0].w, a, code, o + 12);
            store_pairs_transposed<16>(Bs, o, row, q * 32);
        } else {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int idx = threadIdx.x + i * THREADS;
                int row = idx & 63, q = idx >> 6;
                u32 o[4] = {r[i].x, r[i].y, r[i].z, r[i].w};
                store_pairs_transposed<4>(Bs, o, row, q * 8);
            }
        }
    }
};

template <bool NF4>
__device__ __forceinline__ void matmul_dyw(const float* __restrict__ dy, int lddy, float* __restrict__ dx, int lddx, int M, int N, int K,
                                           int accumulate, const WeightSrc& w) {
    __shared__ __align__(16) bf16_t As[BM * LDS];
    __shared__ __align__(16) bf16_t Bs[BN * LDS];
    __shared__ float code[16];
    if (threadIdx.x < 16) code[threadIdx.x] = NF4_CODE[threadIdx.x];
    const int m0 = blockIdx.y * BM, k0 = blockIdx.x * BN;
    float acc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;
    ATile at;
    WTileDyw<NF4> wt;
    at.load(dy, lddy, m0, 0, M, N);
    wt.load(w, 0, k0, N, K);
    for (int n0 = 0; n0 < N; n0 += BK) {
        __syncthreads();
        at.store(As);
        wt.store(Bs, code);
        __syncthreads();
        if (n0 + BK < N) {
            at.load(dy, lddy, m0, n0 + BK, M, N);
            wt.load(w, n0 + BK, k0, N, K);
        }
        mma_tile(As, Bs, acc);
    }
    store_acc(acc, dx, lddx, m0, k0, M, K, nullptr, accumulate);
}

// ---- entry points ----------------------------------------------------------------
// Grid: xwt (ceil(N/128), ceil(M/64)); dyw (ceil(K/128), ceil(M/64)); 256 threads.
// Requirements checked by the launcher: K % 64 == 0, ldx/ldy % 4 == 0, 16-byte aligned bases.

extern "C" __global__ void __launch_bounds__(THREADS) nf4_xwt(const float* x, int ldx, float* y, int ldy, const float* bias, int M, int N, int K,
                                                              int accumulate, const u8* packed, const float* absmax, const u8* qabsmax,
                                                              const float* absmax2, const float* code2, float offset) {
    WeightSrc w = {packed, absmax, qabsmax, absmax2, code2, offset, nullptr};
    matmul_xwt<true>(x, ldx, y, ldy, bias, M, N, K, accumulate, w);
}

extern "C" __global__ void __launch_bounds__(THREADS) bf16_xwt(const float* x, int ldx, float* y, int ldy, const float* bias, int M, int N, int K,
                                                               int accumulate, const bf16_t* wb) {
    WeightSrc w = {nullptr, nullptr, nullptr, nullptr, nullptr, 0.f, wb};
    matmul_xwt<false>(x, ldx, y, ldy, bias, M, N, K, accumulate, w);
}

extern "C" __global__ void __launch_bounds__(THREADS) nf4_dyw(const float* dy, int lddy, float* dx, int lddx, int M, int N, int K, int accumulate,
                                                              const u8* packed, const float* absmax, const u8* qabsmax, const float* absmax2,
                                                              const float* code2, float offset) {
    WeightSrc w = {packed, absmax, qabsmax, absmax2, code2, offset, nullptr};
    matmul_dyw<true>(dy, lddy, dx, lddx, M, N, K, accumulate, w);
}

extern "C" __global__ void __launch_bounds__(THREADS) bf16_dyw(const float* dy, int lddy, float* dx, int lddx, int M, int N, int K, int accumulate,
                                                               const bf16_t* wb) {
    WeightSrc w = {nullptr, nullptr, nullptr, nullptr, nullptr, 0.f, wb};
    matmul_dyw<false>(dy, lddy, dx, lddx, M, N, K, accumulate, w);
}

// Dequantises n_pairs bytes (2·n_pairs values) of an NF4 tensor to bf16 (for
// cuBLAS comparisons and tests); grid-stride loop.
extern "C" __global__ void nf4_dequant_bf16(bf16_t* out, long long n_pairs, const u8* packed, const float* absmax, const u8* qabsmax,
                                            const float* absmax2, const float* code2, float offset) {
    WeightSrc w = {packed, absmax, qabsmax, absmax2, code2, offset, nullptr};
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n_pairs; i += (long long)gridDim.x * blockDim.x) {
        float a = block_absmax(w, i >> 5);  // 32 bytes per 64-value block
        u32 byte = packed[i];
        u32 pair = pack_bf16x2(__fmul_rn(NF4_CODE[byte >> 4], a), __fmul_rn(NF4_CODE[byte & 15u], a));
        *reinterpret_cast<u32*>(out + 2 * i) = pair;
    }
}
