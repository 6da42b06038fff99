// The output layer fused with cross-entropy at labelled rows only, walked
// over the vocabulary in chunks (src/ops/loss.rs on the GPU): the launcher
// computes a chunk of logits [n, vc] with the dequant-matmul kernel, then
//   ce_chunk_stats  folds it into per-row running max, Σexp, target logit and
//                   argmax (an online softmax; ties keep the lower token id);
//   ce_chunk_grad   turns the recomputed chunk into (softmax − onehot)·scale,
//                   which the launcher multiplies by the chunk of W into dH.
// One block per row; a chunk's row i is logits + i·ld, nv values (token v0 + j).

#include "common.cuh"

extern "C" __global__ void ce_chunk_stats(const float* __restrict__ logits, int ld, int vc, int v0, const u32* __restrict__ targets, int n,
                                          float* __restrict__ mx, float* __restrict__ sm, float* __restrict__ tgt, u32* __restrict__ amax) {
    __shared__ float sv[32];
    __shared__ int si[32];
    __shared__ float scratch[32];
    const int row = blockIdx.x;
    if (row >= n) return;
    const float* l = logits + (long long)row * ld;
    // Chunk max and its first index.
    float best = -DYAG_INF;
    int best_j = 0x7fffffff;
    for (int j = threadIdx.x; j < vc; j += blockDim.x) {
        float x = l[j];
        if (x > best) {
            best = x;
            best_j = j;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, best, o);
        int oj = __shfl_xor_sync(0xffffffffu, best_j, o);
        if (ov > best || (ov == best && oj < best_j)) {
            best = ov;
            best_j = oj;
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) {
        sv[warp] = best;
        si[warp] = best_j;
    }
    __syncthreads();
    if (warp == 0) {
        best = lane < warps ? sv[lane] : -DYAG_INF;
        best_j = lane < warps ? si[lane] : 0x7fffffff;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, best, o);
            int oj = __shfl_xor_sync(0xffffffffu, best_j, o);
            if (ov > best || (ov == best && oj < best_j)) {
                best = ov;
                best_j = oj;
            }
        }
        if (lane == 0) {
            sv[0] = best;
            si[0] = best_j;
        }
    }
    __syncthreads();
    best = sv[0];
    best_j = si[0];
    const float old = mx[row];
    const float m = fmaxf(old, best);
    float s = 0.f;
    for (int j = threadIdx.x; j < vc; j += blockDim.x) s += expf(l[j] - m);
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) {
        sm[row] = sm[row] * expf(old - m) + s;
        if (best > old) amax[row] = (u32)(v0 + best_j);
        mx[row] = m;
        const long long t = (long long)targets[row] - v0;
        if (t >= 0 && t < vc) tgt[row] = l[t];
    }
}

extern "C" __global__ void ce_chunk_grad(float* __restrict__ logits, int ld, int vc, int v0, const u32* __restrict__ targets,
                                         const float* __restrict__ lse, int n, float scale) {
    const int row = blockIdx.x;
    if (row >= n) return;
    float* l = logits + (long long)row * ld;
    const float z = lse[row];
    const long long t = (long long)targets[row] - v0;
    for (int j = threadIdx.x; j < vc; j += blockDim.x) {
        float g = expf(l[j] - z) * scale;
        if (j == t) g -= scale;
        l[j] = g;
    }
}

// Initial state of the running statistics.
extern "C" __global__ void ce_init(float* mx, float* sm, float* tgt, u32* amax, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        mx[i] = -DYAG_INF;
        sm[i] = 0.f;
        tgt[i] = __int_as_float(0x7fc00000);
        amax[i] = 0;
    }
}
