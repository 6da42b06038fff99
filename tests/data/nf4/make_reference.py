#!/usr/bin/env python3
"""Expected values for dyag's NF4 quantiser (src/quant/nf4.rs), computed with
numpy from the QLoRA / bitsandbytes definitions:

- NF4 code table: the 16 float32 values of bitsandbytes `get_4bit_type("nf4")`
  (bitsandbytes/functional.py; also `_NF4_QUANT_TABLE` in
  bitsandbytes/backends/utils.py), from QLoRA (Dettmers et al. 2023,
  arXiv:2305.14314, appendix E).
- quantize_4bit (bitsandbytes/backends/default/ops.py, the reference CPU
  kernel): per block of 64 values absmax = max|x|; scaled = clamp(x * (1/absmax),
  -1, 1) in float32; code index = argmin |scaled - code| (first on ties); two
  indices per byte, the first in the high nibble.
- dequantize_4bit: code[q] * absmax in float32.
- Double quantisation (`compress_statistics=True`, bitsandbytes/functional.py
  quantize_4bit): offset = mean(absmax); the centred absmax are quantised by
  quantize_blockwise with blocksize 256 and the signed dynamic 8-bit map
  (create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8));
  dequantised absmax = dyn[q] * absmax2 + offset.

Two choices are dyag's where torch leaves the last bit to the machine:
- torch.linspace (inside create_dynamic_map) is evaluated with torch's scalar
  formula in float32 (start + step*i for the first half, end - step*(n-1-i)
  for the rest); torch's vectorised CPU path may differ by one ulp on some entries.
- the mean of the absmax is taken in float64 and rounded once to float32
  (torch sums float32 in a machine-dependent order).

bitsandbytes itself could not be installed here (it needs torch); this script
needs only numpy. Run: python3 tests/data/nf4/make_reference.py  (writes reference.json beside it)
"""
import json
import os

import numpy as np

F = np.float32

NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
], dtype=F)


def torch_linspace_f32(start, end, steps):
    start, end = F(start), F(end)
    step = F((end - start) / F(steps - 1))
    half = steps // 2
    out = []
    for i in range(steps):
        if i < half:
            out.append(F(start + F(step * F(i))))
        else:
            out.append(F(end - F(step * F(steps - i - 1))))
    return np.array(out, dtype=F)


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        b = torch_linspace_f32(0.1, 1, fraction_items)
        means = ((b[:-1] + b[1:]) / F(2.0)).astype(F)
        scale = F(10 ** (-(max_exponent_bits - 1) + i))  # a Python float times a float32 tensor stays float32
        data += [float(v) for v in (scale * means).astype(F)]
        if signed:
            data += [float(v) for v in (-scale * means).astype(F)]
    assert additional_items == 0  # true for the default arguments used by bitsandbytes
    data.append(0.0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    data.sort()
    return np.array(data, dtype=F)


def quantize_blocks(x, code, block):
    """bitsandbytes' default quantize_blockwise / quantize_4bit (without packing)."""
    n = x.size
    nb = (n + block - 1) // block
    absmax = np.zeros(nb, dtype=F)
    q = np.zeros(n, dtype=np.int64)
    for b in range(nb):
        blk = x[b * block:(b + 1) * block]
        a = F(np.max(np.abs(blk)))
        absmax[b] = a
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.clip((blk * (F(1.0) / a)).astype(F), F(-1), F(1))
        if a == 0:
            # 0 * inf is NaN in torch as well; dyag stores the zero code (7), which dequantises to 0 like any code would.
            q[b * block:(b + 1) * block] = int(np.argmin(np.abs(code)))
            continue
        d = np.abs(scaled[:, None] - code[None, :]).astype(F)
        q[b * block:(b + 1) * block] = np.argmin(d, axis=1)
    return q, absmax


def xorshift_values(rows, cols, seed=0x2545F491):
    """Irwin-Hall(4) values, exactly reproducible in float32 (src/quant/nf4.rs tests use the same generator)."""
    s = seed
    def u():
        nonlocal s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        return F((s >> 8) * (1.0 / (1 << 24)))
    out = np.zeros((rows, cols), dtype=F)
    for r in range(rows):
        scale = F(F(r + 1) * F(0.0125))
        for c in range(cols):
            g = F(F(F(u() + u()) + u()) + u()) - F(2.0)
            out[r, c] = F(F(g) * scale)
    return out


def special_rows(x):
    # Row 0, block 0: all zeros. Block 1: exact code values times 0.5 (and the
    # absmax itself). Block 2: one outlier among tiny values.
    x[0, 0:64] = 0
    x[0, 64:128] = np.tile(NF4 * F(0.5), 4)
    x[0, 128:192] = F(1e-3)
    x[0, 150] = F(-3.0)
    return x


def bits(a):
    return [int(v) for v in np.asarray(a, dtype=F).view(np.uint32)]


def main():
    rows, cols = 75, 256  # 300 blocks of 64: one whole and one partial block of 256 absmax
    x = special_rows(xorshift_values(rows, cols)).reshape(-1)
    q, absmax = quantize_blocks(x, NF4, 64)
    packed = ((q[0::2] << 4) | q[1::2]).astype(np.uint8)
    deq = (NF4[q].reshape(-1, 64) * absmax[:, None]).astype(F).reshape(-1)

    dyn = create_dynamic_map()
    offset = F(np.mean(absmax.astype(np.float64)))
    centred = (absmax - offset).astype(F)
    q2, absmax2 = quantize_blocks(centred, dyn, 256)
    absmax_dq = (dyn[q2] * np.repeat(absmax2, 256)[: absmax.size]).astype(F) + offset
    absmax_dq = absmax_dq.astype(F)
    deq_dq = (NF4[q].reshape(-1, 64) * absmax_dq[:, None]).astype(F).reshape(-1)

    sample = 512  # dequantised values of the first two rows
    ref = {
        "about": "made by tests/data/nf4/make_reference.py (numpy, bitsandbytes definitions); floats are IEEE-754 float32 bit patterns",
        "rows": rows,
        "cols": cols,
        "input_seed": 0x2545F491,
        "input_first_bits": bits(x[:16]),
        "input_sum_f64": float(np.sum(x.astype(np.float64))),
        "nf4_code_bits": bits(NF4),
        "dynamic_map_bits": bits(dyn),
        "packed_hex": packed.tobytes().hex(),
        "absmax_bits": bits(absmax),
        "dequant_sample_bits": bits(deq[:sample]),
        "dequant_sum_f64": float(np.sum(deq.astype(np.float64))),
        "double_quant": {
            "offset_bits": bits([offset])[0],
            "qabsmax_hex": q2.astype(np.uint8).tobytes().hex(),
            "absmax2_bits": bits(absmax2),
            "absmax_dequant_bits": bits(absmax_dq),
            "dequant_sample_bits": bits(deq_dq[:sample]),
            "dequant_sum_f64": float(np.sum(deq_dq.astype(np.float64))),
        },
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(out, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out}: {x.size} values, {absmax.size} blocks, max |x - deq| = {np.max(np.abs(x - deq)):.3g}")


if __name__ == "__main__":
    main()
