// Small data-movement kernels of the GPU forward and backward passes.

#include "common.cuh"

#define GRID_STRIDE(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// out[t][c] = table[ids[t]][c] · scale (bf16 table [vocab, d]; scale 1 when has_scale == 0).
extern "C" __global__ void embed_bf16(const u32* __restrict__ ids, int n, const bf16_t* __restrict__ table, int d, float scale,
                                      int has_scale, float* __restrict__ out) {
    GRID_STRIDE(e, (long long)n * d) {
        long long t = e / d, c = e % d;
        float v = bf16_to_f32(table[(long long)ids[t] * d + c]);
        out[e] = has_scale ? v * scale : v;
    }
}

// dst[r][c] (+)= src[r][c] for a rows × cols window of two strided matrices.
extern "C" __global__ void copy2d(const float* __restrict__ src, int lds, float* __restrict__ dst, int ldd, int rows, int cols,
                                  int accumulate) {
    GRID_STRIDE(e, (long long)rows * cols) {
        long long r = e / cols, c = e % cols;
        float v = src[r * lds + c];
        float* p = dst + r * ldd + c;
        *p = accumulate ? *p + v : v;
    }
}

// x += y.
extern "C" __global__ void add_inplace(float* __restrict__ x, const float* __restrict__ y, long long n) {
    GRID_STRIDE(i, n) { x[i] += y[i]; }
}

// dst[i] = src[rows[i]] (rows of d values).
extern "C" __global__ void gather_rows(const float* __restrict__ src, const u32* __restrict__ rows, int n, int d, float* __restrict__ dst) {
    GRID_STRIDE(e, (long long)n * d) {
        long long i = e / d, c = e % d;
        dst[e] = src[(long long)rows[i] * d + c];
    }
}

// dst[rows[i]] = src[i] (rows of d values; other rows untouched).
extern "C" __global__ void scatter_rows(const float* __restrict__ src, const u32* __restrict__ rows, int n, int d, float* __restrict__ dst) {
    GRID_STRIDE(e, (long long)n * d) {
        long long i = e / d, c = e % d;
        dst[(long long)rows[i] * d + c] = src[e];
    }
}
