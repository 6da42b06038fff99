// RMSNorm over rows of d values, as src/ops/norm.rs: y = x·r·w with
// r = 1/√(mean(x²) + ε); backward dx (+)= r·(w⊙dy − x·c), c = r²·Σ(x·w·dy)/d.
// One block per row. `add` makes the forward accumulate (x += norm(y), the
// post-norms before a residual add) and the backward accumulate into dx.

#include "common.cuh"

extern "C" __global__ void rmsnorm_fwd(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                       float* __restrict__ rstd, int rows, int d, float eps, int add) {
    __shared__ float scratch[32];
    const int row = blockIdx.x;
    if (row >= rows) return;
    const float* xr = x + (long long)row * d;
    float* yr = y + (long long)row * d;
    float ss = 0.f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss, scratch);
    const float r = 1.f / sqrtf(ss / (float)d + eps);
    if (rstd && threadIdx.x == 0) rstd[row] = r;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v = __fmul_rn(__fmul_rn(xr[i], r), w[i]);
        yr[i] = add ? yr[i] + v : v;
    }
}

extern "C" __global__ void rmsnorm_bwd(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ rstd,
                                       const float* __restrict__ dy, float* __restrict__ dx, int rows, int d, int accumulate) {
    __shared__ float scratch[32];
    const int row = blockIdx.x;
    if (row >= rows) return;
    const float* xr = x + (long long)row * d;
    const float* dyr = dy + (long long)row * d;
    float* dxr = dx + (long long)row * d;
    float s = 0.f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) s += xr[i] * w[i] * dyr[i];
    s = block_sum(s, scratch);
    const float r = rstd[row];
    const float c = r * r * s / (float)d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float g = r * (w[i] * dyr[i] - xr[i] * c);
        dxr[i] = accumulate ? dxr[i] + g : g;
    }
}
