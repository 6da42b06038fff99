#!/usr/bin/env python3
"""Desk check of kernels/nf4_matmul.cu without a GPU: a thread-by-thread numpy
transcription of nf4_xwt / nf4_dyw / bf16_xwt / bf16_dyw (tile loads, the bf16
packing, the transposed pair stores with their shuffles, the fragment loads),
with mma.sync m16n8k16 emulated from the PTX ISA's fragment layout. The result
must equal X·Wᵀ and DY·W computed directly from the same bf16-rounded operands.
It checks indexing and layouts, not timing or the hardware. Needs numpy.
Run: python3 scripts/cuda_sim/sim_matmul.py
"""
import numpy as np
from tiles import TILES

BM, BN, BK, THREADS = TILES["MM_BM"], TILES["MM_BN"], TILES["MM_BK"], TILES["THREADS"]
LDS = BK + 8
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=np.float32)


def bf16(x):
    """Round float32 to bfloat16 (nearest even), returned as float32."""
    x = np.asarray(x, dtype=np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32)


def quantize_nf4(w):
    n, k = w.shape
    blocks = w.reshape(-1, 64)
    absmax = np.abs(blocks).max(axis=1).astype(np.float32)
    scaled = np.clip(blocks * (np.float32(1) / absmax)[:, None], -1, 1)
    q = np.abs(scaled[:, :, None] - NF4[None, None, :]).argmin(axis=2).reshape(-1)
    packed = ((q[0::2] << 4) | q[1::2]).astype(np.uint8)
    deq = (NF4[q].reshape(-1, 64) * absmax[:, None]).astype(np.float32).reshape(n, k)
    return packed, absmax, bf16(deq)


def mma(acc, a_regs, b_regs):
    """mma.sync.m16n8k16.row.col: a_regs[lane] = 4 pairs, b_regs[lane] = 2 pairs; acc[lane] = 4 floats."""
    A = np.zeros((16, 16), np.float64)
    B = np.zeros((16, 8), np.float64)
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        a = a_regs[lane]
        A[g, 2 * t:2 * t + 2] = a[0]
        A[g + 8, 2 * t:2 * t + 2] = a[1]
        A[g, 2 * t + 8:2 * t + 10] = a[2]
        A[g + 8, 2 * t + 8:2 * t + 10] = a[3]
        b = b_regs[lane]
        B[2 * t:2 * t + 2, g] = b[0]
        B[2 * t + 8:2 * t + 10, g] = b[1]
    C = A @ B
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        acc[lane][0] += C[g, 2 * t]
        acc[lane][1] += C[g, 2 * t + 1]
        acc[lane][2] += C[g + 8, 2 * t]
        acc[lane][3] += C[g + 8, 2 * t + 1]


def mma_tile(As, Bs, acc):
    # acc[warp][lane][mt][nt][4]
    for warp in range(8):
        wm, wn = warp >> 2, warp & 3
        for kk in range(0, BK, 16):
            a = [[None] * 2 for _ in range(32)]
            b = [[None] * 4 for _ in range(32)]
            for lane in range(32):
                g, t4 = lane >> 2, lane & 3
                for mt in range(2):
                    p = (wm * 32 + mt * 16 + g) * LDS + kk + 2 * t4
                    a[lane][mt] = [As[p:p + 2], As[p + 8 * LDS:p + 8 * LDS + 2], As[p + 8:p + 10], As[p + 8 * LDS + 8:p + 8 * LDS + 10]]
                for nt in range(4):
                    p = (wn * 32 + nt * 8 + g) * LDS + kk + 2 * t4
                    b[lane][nt] = [Bs[p:p + 2], Bs[p + 8:p + 10]]
            for mt in range(2):
                for nt in range(4):
                    sub = [acc[warp][lane][mt][nt] for lane in range(32)]
                    mma(sub, [a[lane][mt] for lane in range(32)], [b[lane][nt] for lane in range(32)])


def a_tile(a, lda, m0, c0, M, C):
    As = np.zeros(BM * LDS, np.float32)
    for tid in range(THREADS):
        for i in range(4):
            idx = tid + i * THREADS
            row, col = idx >> 4, (idx & 15) * 4
            gm, gc = m0 + row, c0 + col
            v = np.zeros(4, np.float32)
            if gm < M:
                for j in range(4):
                    if gc + j < C:
                        v[j] = a[gm * lda + gc + j]
            As[row * LDS + col:row * LDS + col + 4] = bf16(v)
    return As


def store_acc(acc, c, ldc, m0, n0, M, Ncols, bias, accumulate):
    for warp in range(8):
        wm, wn = warp >> 2, warp & 3
        for lane in range(32):
            g, t4 = lane >> 2, lane & 3
            for mt in range(2):
                for nt in range(4):
                    for h in range(2):
                        row = m0 + wm * 32 + mt * 16 + g + 8 * h
                        if row >= M:
                            continue
                        for j in range(2):
                            col = n0 + wn * 32 + nt * 8 + 2 * t4 + j
                            if col >= Ncols:
                                continue
                            v = acc[warp][lane][mt][nt][2 * h + j]
                            if bias is not None:
                                v += bias[col]
                            c[row * ldc + col] = c[row * ldc + col] + v if accumulate else v


def new_acc():
    return [[[[np.zeros(4) for _ in range(4)] for _ in range(2)] for _ in range(32)] for _ in range(8)]


def dequant_pairs(byts, a):
    """16 packed bytes → 32 values (element 2b from the high nibble)."""
    out = np.zeros(32, np.float32)
    for bi, byte in enumerate(byts):
        out[2 * bi] = NF4[byte >> 4] * a
        out[2 * bi + 1] = NF4[byte & 15] * a
    return bf16(out)


def xwt(x, w_fmt, M, N, K, bias):
    packed, absmax, wb = w_fmt
    y = np.zeros(M * N)
    for by in range((M + BM - 1) // BM):
        for bx in range((N + BN - 1) // BN):
            m0, n0 = by * BM, bx * BN
            acc = new_acc()
            for k0 in range(0, K, BK):
                As = a_tile(x, K, m0, k0, M, K)
                Bs = np.zeros(BN * LDS, np.float32)
                for tid in range(THREADS):
                    if packed is not None:
                        row, half = tid >> 1, tid & 1
                        gn = n0 + row
                        if gn < N:
                            e = gn * K + k0 + half * 32
                            vals = dequant_pairs(packed[e >> 1:(e >> 1) + 16], absmax[gn * (K >> 6) + (k0 >> 6)])
                        else:
                            vals = np.zeros(32, np.float32)
                        Bs[row * LDS + half * 32:row * LDS + half * 32 + 32] = vals
                    else:
                        for i in range(4):
                            idx = tid + i * THREADS
                            row, col = idx >> 3, (idx & 7) * 8
                            gn = n0 + row
                            Bs[row * LDS + col:row * LDS + col + 8] = wb[gn * K + k0 + col:gn * K + k0 + col + 8] if gn < N else 0
                mma_tile(As, Bs, acc)
            store_acc(acc, y, N, m0, n0, M, N, bias, False)
    return y


def store_pairs_transposed(Bs, lane_vals, rows, kbases):
    """lane_vals[lane] = row values (k = kbase..), as the kernel holds them; emulates the shuffle exchange."""
    nvals = len(lane_vals[0])
    NW = nvals // 2
    H = NW // 2
    words = [[(v[2 * j], v[2 * j + 1]) for j in range(NW)] for v in lane_vals]  # (lo, hi) pairs
    for lane in range(32):
        r = rows[lane]
        odd = r & 1
        partner = lane ^ 1
        assert rows[partner] == r ^ 1 and kbases[partner] == kbases[lane]
        p2 = r & ~1
        w = words[lane]
        wp = words[partner]
        for j in range(H):
            send_by_partner = wp[j] if (rows[partner] & 1) else wp[H + j]
            other = send_by_partner
            mine = w[H + j] if odd else w[j]
            kb = kbases[lane] + (2 * H if odd else 0)
            even_row = other if odd else mine
            odd_row = mine if odd else other
            Bs[(kb + 2 * j) * LDS + p2] = even_row[0]
            Bs[(kb + 2 * j) * LDS + p2 + 1] = odd_row[0]
            Bs[(kb + 2 * j + 1) * LDS + p2] = even_row[1]
            Bs[(kb + 2 * j + 1) * LDS + p2 + 1] = odd_row[1]


def dyw(dy, w_fmt, M, N, K):
    packed, absmax, wb = w_fmt
    dx = np.zeros(M * K)
    for by in range((M + BM - 1) // BM):
        for bx in range((K + BN - 1) // BN):
            m0, k0 = by * BM, bx * BN
            acc = new_acc()
            for n0 in range(0, N, BK):
                As = a_tile(dy, N, m0, n0, M, N)
                Bs = np.zeros(BN * LDS, np.float32)
                for warp in range(8):
                    if packed is not None:
                        vals, rows, kb = [], [], []
                        for lane in range(32):
                            tid = warp * 32 + lane
                            row, q = tid & 63, tid >> 6
                            gn, gk = n0 + row, k0 + q * 32
                            if gn < N and gk < K:
                                e = gn * K + gk
                                v = dequant_pairs(packed[e >> 1:(e >> 1) + 16], absmax[gn * (K >> 6) + (gk >> 6)])
                            else:
                                v = np.zeros(32, np.float32)
                            vals.append(v)
                            rows.append(row)
                            kb.append(q * 32)
                        store_pairs_transposed(Bs, vals, rows, kb)
                    else:
                        for i in range(4):
                            vals, rows, kb = [], [], []
                            for lane in range(32):
                                idx = warp * 32 + lane + i * THREADS
                                row, q = idx & 63, idx >> 6
                                gn, gk = n0 + row, k0 + q * 8
                                v = wb[gn * K + gk:gn * K + gk + 8] if (gn < N and gk < K) else np.zeros(8, np.float32)
                                vals.append(np.asarray(v, np.float32))
                                rows.append(row)
                                kb.append(q * 8)
                            store_pairs_transposed(Bs, vals, rows, kb)
                mma_tile(As, Bs, acc)
            store_acc(acc, dx, K, m0, k0, M, K, None, False)
    return dx


def main():
    rng = np.random.default_rng(0)
    M, N, K = 77, 200, 192
    w = (rng.standard_normal((N, K)) * 0.5).astype(np.float32)
    x = rng.standard_normal(M * K).astype(np.float32)
    dy = rng.standard_normal(M * N).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    packed, absmax, wq = quantize_nf4(w)
    wbf = bf16(w).reshape(-1)
    for name, fmt, wref in [("nf4", (packed, absmax, None), wq), ("bf16", (None, None, wbf), wbf.reshape(N, K))]:
        y = xwt(x, fmt, M, N, K, bias)
        want = bf16(x).reshape(M, K).astype(np.float64) @ wref.astype(np.float64).T + bias
        err = np.abs(y.reshape(M, N) - want).max()
        print(f"{name} xwt: max |err| = {err:.3e}")
        assert err < 1e-9, err
        dx = dyw(dy, fmt, M, N, K)
        want = bf16(dy).reshape(M, N).astype(np.float64) @ wref.astype(np.float64)
        err = np.abs(dx.reshape(M, K) - want).max()
        print(f"{name} dyw: max |err| = {err:.3e}")
        assert err < 1e-9, err
    print("ok")


if __name__ == "__main__":
    main()
