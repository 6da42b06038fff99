// Shared by every dyag kernel; passed to NVRTC as the header "common.cuh".
//
// NVRTC from the PyPI wheel ships no CUDA headers (no cuda_bf16.h, no mma.h),
// so everything here is plain C++ plus inline PTX: bf16 is carried as raw
// 16-bit patterns, conversions and tensor-core MMAs are PTX instructions of
// sm_80 and later (they run unchanged on sm_90).
#pragma once

typedef unsigned char u8;
typedef unsigned short bf16_t;  // raw bfloat16 bits
typedef unsigned int u32;
typedef unsigned long long u64;

#ifndef DYAG_THREADS
#error "compile the kernels through dyag: src/cuda/nvrtc.rs passes the sizes of src/cuda/tiles.rs as -D defines"
#endif

#define DYAG_INF __int_as_float(0x7f800000)

// ---- bf16 ------------------------------------------------------------------

__device__ __forceinline__ float bf16_to_f32(bf16_t h) { return __uint_as_float(((u32)h) << 16); }

// Round to nearest even, NaN kept (cvt.rn is IEEE rounding, like half::bf16::from_f32).
__device__ __forceinline__ bf16_t f32_to_bf16(float x) {
    unsigned short r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
}

// Two floats to a packed pair: `lo` in bits 0..15 (the lower k index of an MMA fragment).
__device__ __forceinline__ u32 pack_bf16x2(float lo, float hi) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// D += A·B on tensor cores: m16n8k16, A row-major bf16, B column-major bf16, f32 accumulators.
// Fragments (PTX ISA, "mma.m16n8k16"): with g = lane/4 and t = lane%4,
//   a[0] = A[g][2t..2t+1]  a[1] = A[g+8][2t..]  a[2] = A[g][2t+8..]  a[3] = A[g+8][2t+8..]
//   b[0] = B[2t..2t+1][g]  b[1] = B[2t+8..2t+9][g]
//   c[0..1] = C[g][2t..2t+1]  c[2..3] = C[g+8][2t..2t+1]
__device__ __forceinline__ void mma_bf16_16816(float c[4], const u32 a[4], const u32 b[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ---- reductions --------------------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `scratch` holds 32 floats of shared memory; the call synchronises the block.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.f;
    return warp_sum(v);
}

// ---- LoRA dropout ----------------------------------------------------------

// Murmur3's 32-bit finaliser, as src/ops/lora.rs `fmix32`.
__device__ __forceinline__ unsigned fmix32(unsigned h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

// The mask of src/ops/lora.rs `Dropout`, bit for bit: the 64-bit key folded to
// 32 bits, the top 24 bits of fmix32(index·φ32 ^ key) compared with p·2^24;
// kept elements scaled by 1/(1 − p) (one rounded f32 division, as on the CPU).
__device__ __forceinline__ float dropout_keep_scale(u64 key, u64 index, float p) {
    unsigned k = fmix32((unsigned)key ^ fmix32((unsigned)(key >> 32)));
    unsigned h = fmix32(((unsigned)index * 0x9E3779B1u) ^ k) >> 8;
    unsigned threshold = (unsigned)((double)fminf(fmaxf(p, 0.f), 1.f) * 16777216.0);
    return h < threshold ? 0.f : __fdiv_rn(1.f, 1.f - p);
}
