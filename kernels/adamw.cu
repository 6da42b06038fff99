// Fused AdamW as torch.optim.AdamW (single-tensor path) and src/ops/adamw.rs,
// with the gradient clipping coefficient folded in (g ← g·coef first, as
// clip_grad_norm_ does). Every operation is rounded as the CPU rounds it (no
// FMA contraction), so parameters and moments match the CPU bit for bit.
// The scalars are computed on the host in f64 and rounded once, as torch does.

#include "common.cuh"

extern "C" __global__ void adamw_step(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
                                      long long n, float coef, float neg_step, float bc2_sqrt, float decay, int apply_decay, float w1,
                                      float b2, float w2, float eps) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float gi = __fmul_rn(g[i], coef);
        float pi = p[i];
        if (apply_decay) pi = __fmul_rn(pi, decay);
        float mi = __fadd_rn(m[i], __fmul_rn(w1, __fsub_rn(gi, m[i])));
        float vi = __fadd_rn(__fmul_rn(v[i], b2), __fmul_rn(__fmul_rn(w2, gi), gi));
        float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), bc2_sqrt), eps);
        p[i] = __fadd_rn(pi, __fmul_rn(neg_step, __fdiv_rn(mi, denom)));
        m[i] = mi;
        v[i] = vi;
    }
}

// out += Σ g² over n values, accumulated in f64 (as adamw::global_norm does).
extern "C" __global__ void sumsq_f64(const float* __restrict__ g, long long n, double* __restrict__ out) {
    __shared__ double part[32];
    double s = 0.0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) s += (double)g[i] * (double)g[i];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = s;
    __syncthreads();
    if (warp == 0) {
        s = lane < (int)(blockDim.x >> 5) ? part[lane] : 0.0;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) atomicAdd(out, s);
    }
}
