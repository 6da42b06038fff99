#!/usr/bin/env python3
"""Reference dequantisation data for tests/quant_reference.rs.

For each ggml type, random blocks with sane scales (every quant bit random;
f16 scales finite, including zero, negative and subnormal ones) are
dequantised by the Python `gguf` package (gguf.quants.dequantize, an
implementation independent of ggml's C code and of dyag), and written with a
random activation vector x and the exact (float64) dot product of the
dequantised row with x.

Run (needs numpy and gguf, e.g. `pip install numpy gguf`):
    python3 tests/data/quant/make_reference.py tests/data/quant
It is deterministic: rerunning it rewrites identical files.

File layout of <TYPE>.bin, all little-endian:
    b"DYQR", u32 ggml type id, u32 block count, u32 value count n,
    u32 byte count m, m bytes of blocks, n f32 expected values,
    n f32 x values, f64 dot = sum(expected[i] * x[i]) computed in float64.
"""
import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

# Byte offsets of the f16 scale fields in one block (ggml-common.h layouts).
F16_FIELDS = {
    T.Q4_0: [0], T.Q5_0: [0], T.Q8_0: [0],
    T.Q4_1: [0, 2], T.Q5_1: [0, 2], T.Q4_K: [0, 2], T.Q5_K: [0, 2],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q6_K: [208],
}
BLOCKS = {T.Q2_K: 3, T.Q3_K: 3, T.Q4_K: 3, T.Q5_K: 3, T.Q6_K: 3}  # others: 9 blocks
FLOAT_VALUES = 77  # F32/F16/BF16: an odd count, to exercise SIMD tails


def scale(rng, i):
    """A finite f16 scale: the first blocks get 0, a negative and a subnormal one."""
    special = [0.0, -0.75, 2.0 ** -20]
    if i < len(special):
        return np.float16(special[i])
    mag = (1.0 + rng.random()) * 2.0 ** rng.integers(-12, 1)
    return np.float16(mag if rng.random() < 0.5 else -mag)


def make(qtype, rng):
    if qtype == T.F32:
        vals = (rng.standard_normal(FLOAT_VALUES) * 2.0 ** rng.integers(-20, 10, FLOAT_VALUES)).astype(np.float32)
        return vals.tobytes(), FLOAT_VALUES
    if qtype == T.F16:
        vals = (rng.standard_normal(FLOAT_VALUES) * 2.0 ** rng.integers(-20, 6, FLOAT_VALUES)).astype(np.float16)
        return vals.tobytes(), FLOAT_VALUES
    if qtype == T.BF16:
        bits = rng.integers(0, 1 << 16, FLOAT_VALUES, dtype=np.uint32).astype(np.uint16)
        exp = (bits >> 7) & 0xFF
        bits = np.where(exp == 0xFF, bits & ~np.uint16(0x4000), bits).astype(np.uint16)  # no Inf/NaN
        return bits.tobytes(), FLOAT_VALUES
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n = BLOCKS.get(qtype, 9)
    raw = bytearray(rng.integers(0, 256, n * type_size, dtype=np.uint8).tobytes())
    for i in range(n):
        for k, at in enumerate(F16_FIELDS[qtype]):
            raw[i * type_size + at:i * type_size + at + 2] = scale(rng, i + 3 * k).tobytes()
    return bytes(raw), n


def main(out_dir):
    out = Path(out_dir)
    rng = np.random.default_rng(20240611)
    types = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
             T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
    for qtype in types:
        data, n_blocks = make(qtype, rng)
        values = gguf.quants.dequantize(np.frombuffer(data, dtype=np.uint8), qtype).astype(np.float32).reshape(-1)
        assert np.isfinite(values).all(), qtype.name
        x = (rng.random(values.size) * 2.0 - 1.0).astype(np.float32)
        dot = float(np.sum(values.astype(np.float64) * x.astype(np.float64)))
        blob = b"DYQR" + struct.pack("<IIII", int(qtype), n_blocks, values.size, len(data))
        blob += data + values.astype("<f4").tobytes() + x.astype("<f4").tobytes() + struct.pack("<d", dot)
        (out / f"{qtype.name}.bin").write_bytes(blob)
        print(f"{qtype.name}: {n_blocks} blocks, {values.size} values, {len(blob)} bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
