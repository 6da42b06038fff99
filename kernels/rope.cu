// Rotary embeddings, rotate-half layout (src/ops/rope.rs): in each head,
// dimension i pairs with i + d/2 and rotates by +θ(pos, i) (forward) or −θ
// (backward, sign = −1). cos/sin are the CPU's table [positions, d/2].
// The arithmetic is rounded step by step as the CPU does, so results match bit for bit.

#include "common.cuh"

// Grid: rows; block: any. x is [rows, ld] with n_heads heads of 2·half values from column 0.
extern "C" __global__ void rope_rotate(float* __restrict__ x, int ld, const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                       const u32* __restrict__ pos, int rows, int n_heads, int half, float sign) {
    const int row = blockIdx.x;
    if (row >= rows) return;
    const long long p = pos[row];
    float* xr = x + (long long)row * ld;
    for (int e = threadIdx.x; e < n_heads * half; e += blockDim.x) {
        int h = e / half, i = e % half;
        float* a = xr + h * 2 * half + i;
        float* b = a + half;
        float c = cos_t[p * half + i], si = sign * sin_t[p * half + i];
        float x0 = *a, x1 = *b;
        *a = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, si));
        *b = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(x0, si));
    }
}
