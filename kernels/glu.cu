// Gated activations (src/ops/activation.rs): out = act(gate)·up, with
// act = SiLU (act == 0) or tanh-approximated GELU (act == 1); backward gives
// d(gate) = dout·up·act'(gate) and d(up) = dout·act(gate).

#include "common.cuh"

#define SQRT_2_OVER_PI 0.7978846f
#define GELU_C 0.044715f

__device__ __forceinline__ void act_and_grad(int act, float x, float* a, float* da) {
    if (act == 0) {
        float s = 1.f / (1.f + expf(-x));
        *a = x * s;
        *da = s * (1.f + x * (1.f - s));
    } else {
        float u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
        float t = tanhf(u);
        *a = 0.5f * x * (1.f + t);
        *da = 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * SQRT_2_OVER_PI * (1.f + 3.f * GELU_C * x * x);
    }
}

extern "C" __global__ void glu_fwd(const float* __restrict__ gate, const float* __restrict__ up, float* __restrict__ out, long long n, int act) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float a, da;
        act_and_grad(act, gate[i], &a, &da);
        out[i] = a * up[i];
    }
}

extern "C" __global__ void glu_bwd(const float* __restrict__ gate, const float* __restrict__ up, const float* __restrict__ dout,
                                   float* __restrict__ dgate, float* __restrict__ dup, long long n, int act) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float a, da;
        act_and_grad(act, gate[i], &a, &da);
        dup[i] = dout[i] * a;
        dgate[i] = dout[i] * up[i] * da;
    }
}
