#!/usr/bin/env python3
"""Desk check of kernels/lora.cu without a GPU: lora_fwd, lora_bwd_dx and
lora_outer transcribed (tiles of 16 rows, 128-wide reduction chunks, rank
slices of 32, the dropout mask of src/ops/lora.rs), compared with src/ops/lora.rs's
formulas in float64. Run: python3 scripts/cuda_sim/sim_lora.py (needs numpy)
"""
import numpy as np
from tiles import TILES

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
TM, TK = TILES["LORA_TM"], TILES["LORA_TK"]


def fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def keep_scale(key, index, p):
    k = fmix32((key & M32) ^ fmix32(key >> 32))
    h = fmix32(((index * 0x9E3779B1) & M32) ^ k) >> 8
    threshold = int(float(np.float32(p)) * 16777216.0)
    return 0.0 if h < threshold else float(np.float32(1.0) / (np.float32(1.0) - np.float32(p)))


def rows_times_matT(src, lds, mat, mat_t, r, n_red, row0, m, p, key, scale):
    hs = np.zeros((TM, r))
    for j0 in range(0, r, 32):
        jr = min(32, r - j0)
        acc = np.zeros((TM, 32))
        for k0 in range(0, n_red, TK):
            xs = np.zeros((TM, TK))
            for i in range(TM):
                for kk in range(TK):
                    gr, gk = row0 + i, k0 + kk
                    if gr < m and gk < n_red:
                        v = src[gr * lds + gk]
                        if p > 0:
                            v *= keep_scale(key, gr * n_red + gk, p)
                        xs[i, kk] = v
            ms = np.zeros((32, TK))
            for j in range(32):
                for kk in range(TK):
                    gk = k0 + kk
                    if j < jr and gk < n_red:
                        ms[j, kk] = mat[gk * r + j0 + j] if mat_t else mat[(j0 + j) * n_red + gk]
            acc += xs @ ms.T
        hs[:, j0:j0 + jr] = acc[:, :jr] * scale
    return hs


def lora_fwd(x, a, b, y, m, inp, out, r, s, p, key):
    h = np.zeros(m * r)
    for bx in range((m + TM - 1) // TM):
        row0 = bx * TM
        hs = rows_times_matT(x, inp, a, False, r, inp, row0, m, p, key, 1.0)
        for i in range(TM):
            if row0 + i < m:
                h[(row0 + i) * r:(row0 + i + 1) * r] = hs[i]
        for n in range(out):
            accv = hs @ b[n * r:(n + 1) * r]
            for i in range(TM):
                if row0 + i < m:
                    y[(row0 + i) * out + n] += accv[i] * s
    return h


def lora_bwd_dx(dy, a, b, dx, m, inp, out, r, s, p, key):
    dh = np.zeros(m * r)
    for bx in range((m + TM - 1) // TM):
        row0 = bx * TM
        hs = rows_times_matT(dy, out, b, True, r, out, row0, m, 0.0, 0, s)
        for i in range(TM):
            if row0 + i < m:
                dh[(row0 + i) * r:(row0 + i + 1) * r] = hs[i]
        for kcol in range(inp):
            accv = hs @ np.array([a[j * inp + kcol] for j in range(r)])
            for i in range(TM):
                gr = row0 + i
                if gr >= m:
                    continue
                v = accv[i]
                if p > 0:
                    v *= keep_scale(key, gr * inp + kcol, p)
                dx[gr * inp + kcol] += v
    return dh


def lora_outer(pm, q, ldq, outb, sj, sc, m, ncols, r, alpha, p, key):
    for by in range((r + 15) // 16):
        j0 = by * 16
        for c in range(ncols):
            acc = np.zeros(16)
            for i in range(m):
                qv = q[i * ldq + c]
                if p > 0:
                    qv *= keep_scale(key, i * ncols + c, p)
                for j in range(16):
                    if j0 + j < r:
                        acc[j] += pm[i * r + j0 + j] * qv
            for j in range(16):
                if j0 + j < r:
                    outb[(j0 + j) * sj + c * sc] += alpha * acc[j]


def main():
    rng = np.random.default_rng(3)
    m, inp, out, r, s = 37, 150, 70, 36, 2.0
    for p, key in [(0.0, 0), (0.25, 987654321)]:
        A = rng.standard_normal(r * inp)
        B = rng.standard_normal(out * r)
        x = rng.standard_normal(m * inp)
        dy = rng.standard_normal(m * out)
        y0 = rng.standard_normal(m * out)
        mask = np.array([keep_scale(key, i, p) for i in range(m * inp)]) if p > 0 else np.ones(m * inp)
        xd = (x * mask).reshape(m, inp)
        Am, Bm = A.reshape(r, inp), B.reshape(out, r)
        h_ref = xd @ Am.T
        y_ref = y0.reshape(m, out) + s * h_ref @ Bm.T
        dB_ref = s * dy.reshape(m, out).T @ h_ref
        dh_ref = s * dy.reshape(m, out) @ Bm
        dA_ref = dh_ref.T @ xd
        dx_ref = (dh_ref @ Am) * mask.reshape(m, inp)
        y = y0.copy()
        h = lora_fwd(x, A, B, y, m, inp, out, r, s, p, key)
        dx = np.zeros(m * inp)
        dh = lora_bwd_dx(dy, A, B, dx, m, inp, out, r, s, p, key)
        dB = np.zeros(out * r)
        lora_outer(h, dy, out, dB, 1, r, m, out, r, s, 0.0, 0)
        dA = np.zeros(r * inp)
        lora_outer(dh, x, inp, dA, inp, 1, m, inp, r, 1.0, p, key)
        for name, got, want in [("h", h, h_ref), ("y", y, y_ref), ("dh", dh, dh_ref), ("dx", dx, dx_ref), ("dA", dA, dA_ref), ("dB", dB, dB_ref)]:
            err = np.abs(got.reshape(-1) - want.reshape(-1)).max()
            assert err < 1e-9, (name, err)
        print(f"dropout p={p}: h, y, dh, dx, dA, dB all match")
    print("ok")


if __name__ == "__main__":
    main()
