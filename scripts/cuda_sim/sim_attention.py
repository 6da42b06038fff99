#!/usr/bin/env python3
"""Desk check of kernels/attention.cu without a GPU: the three kernels
(attn_fwd, attn_bwd_dkdv, attn_bwd_dq, plus attn_bwd_dot) transcribed block by
block and warp by warp, lanes as numpy vectors (warp_max/warp_sum/__shfl_sync
become reductions and indexing), compared with a direct float64 attention and
its gradient. Covers packed sequences, a KV cache (first query at p0 > 0),
sliding windows, GQA and head dimensions that are not multiples of 32.
Run: python3 scripts/cuda_sim/sim_attention.py   (needs numpy)
"""
import numpy as np
from tiles import TILES

NEG = -np.inf


def visible(j, p, window):
    return (j <= p) & ((window == 0) | (j + window > p))


def kidx(base_head_stride, ld, k_start, j):
    return base_head_stride + (k_start + j) * ld


def fwd(q, ldq, k, v, ldk, khs, seqs, n_heads, group, d, scale, window, rows):
    FQ, FK = TILES["ATTN_FQ"], TILES["ATTN_FK"]
    o = np.zeros_like(q)
    lse = np.zeros(n_heads * rows)
    DC = (d + 31) // 32
    lanes = np.arange(32)
    for (q_start, n_q, k_start, p0) in seqs:
        for head in range(n_heads):
            kvh = head // group
            for qt in range(0, max(n_q, 1), FQ):
                if qt >= n_q:
                    continue
                nq_tile = min(FQ, n_q - qt)
                Qs = np.zeros((FQ, d))
                for r in range(nq_tile):
                    Qs[r] = q[(q_start + qt + r) * ldq + head * d:(q_start + qt + r) * ldq + head * d + d]
                m = np.full((8, 4), NEG)
                l = np.zeros((8, 4))
                acc = np.zeros((8, 4, DC * 32))
                p_first, p_last = p0 + qt, p0 + qt + nq_tile - 1
                j_lo = max(0, p_first + 1 - window) if window else 0
                for j0 in range(j_lo, p_last + 1, FK):
                    nk = min(FK, p_last + 1 - j0)
                    Ks = np.zeros((FK, d))
                    Vs = np.zeros((FK, d))
                    for r in range(nk):
                        a = kvh * khs + (k_start + j0 + r) * ldk
                        Ks[r] = k[a:a + d]
                        Vs[r] = v[a:a + d]
                    j = j0 + lanes
                    for warp in range(8):
                        for r in range(4):
                            qi = warp * 4 + r
                            p = p0 + qt + qi
                            s = (Ks @ Qs[qi]) * scale  # lane = key
                            ok = (qi < nq_tile) & (lanes < nk) & visible(j, p, window)
                            s = np.where(ok, s, NEG)
                            mn = max(m[warp, r], s.max())
                            corr = 1.0 if mn == NEG else np.exp(m[warp, r] - mn)
                            pv = np.zeros(32) if mn == NEG else np.exp(s - mn)
                            l[warp, r] = l[warp, r] * corr + pv.sum()
                            m[warp, r] = mn
                            acc[warp, r] *= corr
                            acc[warp, r, :d] += pv @ Vs
                for warp in range(8):
                    for r in range(4):
                        qi = warp * 4 + r
                        if qi >= nq_tile:
                            continue
                        row = q_start + qt + qi
                        o[row * ldq + head * d:row * ldq + head * d + d] = acc[warp, r, :d] / l[warp, r]
                        lse[head * rows + row] = m[warp, r] + np.log(l[warp, r])
    return o, lse


def bwd_dot(dout, out, ld, rows, n_heads, d):
    D = np.zeros(n_heads * rows)
    for row in range(rows):
        for h in range(n_heads):
            D[h * rows + row] = dout[row * ld + h * d:row * ld + h * d + d] @ out[row * ld + h * d:row * ld + h * d + d]
    return D


def dkdv(q, ldq, k, v, ldk, khs, dout, lse, Dv, rows, seqs, n_heads, n_kv, group, d, scale, window):
    BKT, BQT = TILES["ATTN_BKT"], TILES["ATTN_BQT"]
    dk = np.zeros_like(k)
    dv = np.zeros_like(v)
    for (q_start, n_q, k_start, p0) in seqs:
        n_keys = p0 + n_q
        for kvh in range(n_kv):
            for kt in range(0, n_keys, BKT):
                nk = min(BKT, n_keys - kt)
                Ks = np.zeros((BKT, d))
                Vs = np.zeros((BKT, d))
                for r in range(nk):
                    a = kvh * khs + (k_start + kt + r) * ldk
                    Ks[r] = k[a:a + d]
                    Vs[r] = v[a:a + d]
                dK = np.zeros((BKT, d))
                dV = np.zeros((BKT, d))
                p_min = max(p0, kt)
                p_max = n_keys - 1
                if window:
                    p_max = min(p_max, kt + nk - 1 + window - 1)
                for h in range(kvh * group, (kvh + 1) * group):
                    for i0 in range(p_min - p0, p_max - p0 + 1, BQT):
                        nq = min(BQT, p_max - p0 + 1 - i0)
                        row0 = q_start + i0
                        Qs = np.zeros((BQT, d))
                        dOs = np.zeros((BQT, d))
                        Ls = np.zeros(BQT)
                        Ds = np.zeros(BQT)
                        for t in range(nq):
                            Qs[t] = q[(row0 + t) * ldq + h * d:(row0 + t) * ldq + h * d + d]
                            dOs[t] = dout[(row0 + t) * ldq + h * d:(row0 + t) * ldq + h * d + d]
                            Ls[t] = lse[h * rows + row0 + t]
                            Ds[t] = Dv[h * rows + row0 + t]
                        P = np.zeros((BQT, BKT))
                        dS = np.zeros((BQT, BKT))
                        for tid in range(256):
                            qi, kj = tid >> 4, tid & 15
                            p, j = p0 + i0 + qi, kt + kj
                            if qi < nq and kj < nk and visible(j, p, window):
                                s = Qs[qi] @ Ks[kj] * scale
                                dp = dOs[qi] @ Vs[kj]
                                P[qi, kj] = np.exp(s - Ls[qi])
                                dS[qi, kj] = P[qi, kj] * (dp - Ds[qi]) * scale
                        for qi in range(nq):
                            dV += np.outer(P[qi], dOs[qi])
                            dK += np.outer(dS[qi], Qs[qi])
                for r in range(nk):
                    a = kvh * khs + (k_start + kt + r) * ldk
                    dk[a:a + d] = dK[r]
                    dv[a:a + d] = dV[r]
    return dk, dv


def dq_kernel(q, ldq, k, v, ldk, khs, dout, lse, Dv, rows, seqs, n_heads, group, d, scale, window):
    QQT, QKT = 16, 32
    dq = np.zeros_like(q)
    lanes = np.arange(32)
    for (q_start, n_q, k_start, p0) in seqs:
        for head in range(n_heads):
            kvh = head // group
            for qt in range(0, n_q, QQT):
                nq = min(QQT, n_q - qt)
                row0 = q_start + qt
                acc = np.zeros((QQT, d))
                p_first, p_last = p0 + qt, p0 + qt + nq - 1
                j_lo = max(0, p_first + 1 - window) if window else 0
                for j0 in range(j_lo, p_last + 1, QKT):
                    nk = min(QKT, p_last + 1 - j0)
                    Ks = np.zeros((QKT, d))
                    Vs = np.zeros((QKT, d))
                    for r in range(nk):
                        a = kvh * khs + (k_start + j0 + r) * ldk
                        Ks[r] = k[a:a + d]
                        Vs[r] = v[a:a + d]
                    j = j0 + lanes
                    for qi in range(QQT):
                        if qi >= nq:
                            continue
                        p = p0 + qt + qi
                        row = row0 + qi
                        Qrow = q[row * ldq + head * d:row * ldq + head * d + d]
                        dOrow = dout[row * ldq + head * d:row * ldq + head * d + d]
                        ok = (lanes < nk) & visible(j, p, window)
                        s = Ks @ Qrow * scale
                        dp = Vs @ dOrow
                        pv = np.exp(s - lse[head * rows + row])
                        ds = np.where(ok, pv * (dp - Dv[head * rows + row]) * scale, 0.0)
                        acc[qi] += ds @ Ks
                for qi in range(nq):
                    row = row0 + qi
                    dq[row * ldq + head * d:row * ldq + head * d + d] = acc[qi]
    return dq


def reference(q, k, v, dout, ldq, ldk, khs, seqs, n_heads, group, d, scale, window):
    o = np.zeros_like(q)
    dq = np.zeros_like(q)
    dk = np.zeros_like(k)
    dv = np.zeros_like(v)
    for (q_start, n_q, k_start, p0) in seqs:
        n_keys = p0 + n_q
        for h in range(n_heads):
            kvh = h // group
            Q = np.array([q[(q_start + i) * ldq + h * d:(q_start + i) * ldq + h * d + d] for i in range(n_q)])
            idx = [kvh * khs + (k_start + j) * ldk for j in range(n_keys)]
            K = np.array([k[a:a + d] for a in idx])
            V = np.array([v[a:a + d] for a in idx])
            dO = np.array([dout[(q_start + i) * ldq + h * d:(q_start + i) * ldq + h * d + d] for i in range(n_q)])
            S = Q @ K.T * scale
            mask = np.array([[visible(j, p0 + i, window) for j in range(n_keys)] for i in range(n_q)])
            S = np.where(mask, S, -np.inf)
            P = np.exp(S - S.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            O = P @ V
            dV = P.T @ dO
            dP = dO @ V.T
            dS = P * (dP - (P * dP).sum(axis=1, keepdims=True)) * scale
            dQ = dS @ K
            dK = dS.T @ Q
            for i in range(n_q):
                o[(q_start + i) * ldq + h * d:(q_start + i) * ldq + h * d + d] = O[i]
                dq[(q_start + i) * ldq + h * d:(q_start + i) * ldq + h * d + d] = dQ[i]
            for j, a in enumerate(idx):
                dk[a:a + d] += dK[j]
                dv[a:a + d] += dV[j]
    return o, dq, dk, dv


def main():
    rng = np.random.default_rng(1)
    for d, window, n_heads, n_kv in [(16, 0, 4, 2), (64, 16, 4, 2), (96, 0, 6, 2), (40, 9, 2, 1)]:
        group = n_heads // n_kv
        lens = [37, 5, 70]
        rows = sum(lens)
        ldq, ldk, khs = n_heads * d, n_kv * d, d
        q = rng.standard_normal(rows * ldq)
        k = rng.standard_normal(rows * ldk)
        v = rng.standard_normal(rows * ldk)
        dout = rng.standard_normal(rows * ldq)
        seqs, s0 = [], 0
        for l in lens:
            seqs.append((s0, l, s0, 0))
            s0 += l
        scale = 1 / np.sqrt(d)
        o, lse = fwd(q, ldq, k, v, ldk, khs, seqs, n_heads, group, d, scale, window, rows)
        ro, rdq, rdk, rdv = reference(q, k, v, dout, ldq, ldk, khs, seqs, n_heads, group, d, scale, window)
        D = bwd_dot(dout, o, ldq, rows, n_heads, d)
        dk, dv = dkdv(q, ldq, k, v, ldk, khs, dout, lse, D, rows, seqs, n_heads, n_kv, group, d, scale, window)
        dq = dq_kernel(q, ldq, k, v, ldk, khs, dout, lse, D, rows, seqs, n_heads, group, d, scale, window)
        errs = [np.abs(a - b).max() for a, b in [(o, ro), (dq, rdq), (dk, rdk), (dv, rdv)]]
        print(f"d={d} window={window} heads={n_heads}/{n_kv}: max err o {errs[0]:.2e} dq {errs[1]:.2e} dk {errs[2]:.2e} dv {errs[3]:.2e}")
        assert max(errs) < 1e-10, errs
    # A KV cache: one sequence, 11 new queries after 23 cached keys, head-major cache of capacity 40.
    d, n_heads, n_kv, cap, p0, t = 32, 4, 2, 40, 23, 11
    group = n_heads // n_kv
    kc = rng.standard_normal(n_kv * cap * d)
    vc = rng.standard_normal(n_kv * cap * d)
    q = rng.standard_normal(t * n_heads * d)
    for window in [0, 8]:
        o, _ = fwd(q, n_heads * d, kc, vc, d, cap * d, [(0, t, 0, p0)], n_heads, group, d, 0.3, window, t)
        ro, *_ = reference(q, kc, vc, np.zeros_like(q), n_heads * d, d, cap * d, [(0, t, 0, p0)], n_heads, group, d, 0.3, window)
        err = np.abs(o - ro).max()
        print(f"KV cache p0={p0} window={window}: max err {err:.2e}")
        assert err < 1e-10
    print("ok")


if __name__ == "__main__":
    main()
