#!/usr/bin/env python3
"""Regenerate the Gemma 3 270M logit references of tests/data/refs/ and compare them with the vendored ones.

Steps
 1. F32 copy of models/gemma-3-270m-q4_k_m.gguf: every quantised tensor (Q4_K, Q5_0, Q6_K, Q8_0) is
    dequantised with ggml's own `to_float` (ggml_get_type_traits(type)->to_float from the libggml-base
    that llama-cpp-python ships, i.e. exactly what llama.cpp does) and written as F32 with gguf-py;
    F32 tensors and all metadata are copied unchanged (general.file_type set to ALL_F32). The
    dequantisation is cross-checked against gguf-py's numpy dequantiser (bit-equal expected).
 2. llama.cpp (llama-cpp-python 0.3.36, built from llama.cpp commit 0c1e570) on the F32 copy, 2 threads,
    F32 KV cache, no flash attention, logits of every position (logits_all=True): for each prompt of tests/data/refs/gemma3_270m_reference.json
    (BOS prepended) the `strict_f32` fields: last-position argmax / logit / logsumexp / mean / std / top-50,
    top-10 at every position, greedy 20 tokens (argmax, lowest id wins ties, KV cache, no stop).
 3. the same llama.cpp on the Q4_K_M file as is (F32 KV cache too): `q4_native_llamacpp` (last argmax,
    greedy 20).
The vendored llama.cpp numbers are reproduced bit for bit only with ggml built with -march=native on the
same kind of CPU (AVX-512 Zen 4): scripts/refs/build-llama-native.sh, then --llama-lib. The portable AVX2
wheel sums in another order: strict logits then differ by up to ~1.4e-2 (pass --tol 0.02).
 4. optionally (--transformers) transformers 5.23 in fp32 on the GGUF (dequantised by gguf-py), eager
    attention, 2 threads: `transformers_fp32` for P1 and P2 (last-position top-50 with float32 logprobs,
    per-position argmax, greedy 20).

Writes OUT/gemma3_270m_reference.json and OUT/gemma3_270m_last_logits_strict_f32.safetensors (full
last-position logit vectors P{1,2,3}_last_logits) in the vendored layout, plus OUT/regenerated_by.json
(versions, library folder, CPU features, F32-copy record), then compares with tests/data/refs (max abs diffs,
token-id equality) and exits 1 if the strict references differ by more than --tol (default 1e-4) or
any strict token id differs (q4_native differences are reported, not failed: see README).

Usage: make_gemma3_refs.py OUT_DIR [--gguf models/gemma-3-270m-q4_k_m.gguf] [--f32 PATH] [--transformers]
                             [--llama-lib DIR]
--llama-lib DIR uses the llama.cpp/ggml shared libraries in DIR instead of those of the llama-cpp-python
wheel (LLAMA_CPP_LIB_PATH), e.g. the -march=native ggml build of scripts/refs/build-llama-native.sh.
Needs the venv of scripts/refs/setup-venv.sh (gguf, numpy, safetensors, llama-cpp-python, torch).
"""
import argparse
import ctypes
import hashlib
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import gguf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENDORED = os.path.join(ROOT, "tests", "data", "refs")
JSON_NAME = "gemma3_270m_reference.json"
ST_NAME = "gemma3_270m_last_logits_strict_f32.safetensors"
THREADS = 2
N_GREEDY = 20


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# 1. exact F32 copy

class _Traits(ctypes.Structure):
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64),
                ("blck_size_interleave", ctypes.c_int64), ("type_size", ctypes.c_size_t),
                ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


_TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64)


def llama_lib_dir():
    import llama_cpp
    return os.environ.get("LLAMA_CPP_LIB_PATH") or os.path.join(os.path.dirname(llama_cpp.__file__), "lib")


def ggml_base():
    libdir = llama_lib_dir()
    lib = ctypes.CDLL(os.path.join(libdir, "libggml-base.so"))
    lib.ggml_get_type_traits.restype = ctypes.POINTER(_Traits)
    lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
    return lib


def ggml_dequantize(lib, raw, qtype, n):
    t = lib.ggml_get_type_traits(int(qtype)).contents
    if not t.to_float:
        raise ValueError(f"ggml has no to_float for type {qtype}")
    src = np.ascontiguousarray(raw)
    out = np.empty(n, dtype=np.float32)
    _TO_FLOAT(t.to_float)(src.ctypes.data, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), n)
    return out


def make_f32(src, dst):
    stamp = dst + ".stamp"
    want = f"{os.path.getsize(src)} {int(os.path.getmtime(src))} ggml-to_float"
    if os.path.exists(dst) and os.path.exists(stamp):
        try:
            st = json.load(open(stamp))
        except ValueError:
            st = {}
        if st.get("source") == want:
            log(f"F32 copy up to date: {dst}")
            return {**st.get("info", {}), "reused": True}
    log(f"dequantising {src} -> {dst}")
    t0 = time.time()
    lib = ggml_base()
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    tmp = dst + ".tmp"
    writer = gguf.GGUFWriter(tmp, arch=arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        val = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            val = int(gguf.LlamaFileType.ALL_F32)
        writer.add_key_value(field.name, val, vtype, sub_type=sub)
    types, mismatches = {}, []
    for t in reader.tensors:
        np_shape = tuple(int(x) for x in reversed(t.shape))
        n = int(np.prod(np_shape))
        writer.add_tensor_info(t.name, np_shape, np.dtype(np.float32), n * 4, raw_dtype=gguf.GGMLQuantizationType.F32)
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    max_diff_gguf_py = 0.0
    for t in reader.tensors:
        np_shape = tuple(int(x) for x in reversed(t.shape))
        n = int(np.prod(np_shape))
        if t.tensor_type == gguf.GGMLQuantizationType.F32:
            data = np.asarray(t.data, dtype=np.float32).reshape(np_shape)
        else:
            data = ggml_dequantize(lib, t.data, t.tensor_type, n).reshape(np_shape)
            ref = gguf.quants.dequantize(t.data, t.tensor_type).reshape(np_shape)
            if not np.array_equal(data.view(np.uint32), ref.view(np.uint32)):
                d = float(np.abs(data.astype(np.float64) - ref).max())
                mismatches.append((t.name, d))
                max_diff_gguf_py = max(max_diff_gguf_py, d)
        writer.write_tensor_data(np.ascontiguousarray(data))
    writer.close()
    os.replace(tmp, dst)
    info = {"reused": False, "tensor_types": types, "seconds": round(time.time() - t0, 1),
            "ggml_vs_gguf_py_mismatched_tensors": len(mismatches), "ggml_vs_gguf_py_max_abs_diff": max_diff_gguf_py}
    log(f"F32 copy written in {info['seconds']} s; source tensor types {types}; ggml vs gguf-py dequantisation: "
        f"{'bit-equal' if not mismatches else f'{len(mismatches)} tensors differ, max {max_diff_gguf_py:g}'}")
    with open(stamp, "w") as f:
        json.dump({"source": want, "info": info}, f)
    return info


# ---------------------------------------------------------------------------------------------
# 2./3. llama.cpp

def r5(x):
    return round(float(x), 5)


def logsumexp(v):
    v = v.astype(np.float64)
    m = v.max()
    return float(m + np.log(np.exp(v - m).sum()))


def topk(v, k):
    # descending logit, lowest id first among equal logits
    idx = np.lexsort((np.arange(v.size), -v.astype(np.float64)))[:k]
    return [[int(i), r5(v[i])] for i in idx]


class LlamaRunner:
    def __init__(self, path, kv_f32=True):
        """kv_f32: F32 KV cache (llama.cpp's default is F16, which rounds K and V to half precision and
        moves the logits by ~1e-2); flash attention off (it also rounds to F16 on the CPU)."""
        from llama_cpp import Llama
        kv = {"type_k": 0, "type_v": 0} if kv_f32 else {}  # 0 = GGML_TYPE_F32
        self.llm = Llama(model_path=path, n_ctx=256, n_batch=256, n_ubatch=256, n_threads=THREADS,
                         n_threads_batch=THREADS, logits_all=True, flash_attn=False, verbose=False, seed=0, **kv)

    def tokenize(self, text):
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)

    def piece(self, tok):
        raw = self.llm._model.token_to_piece(tok, special=True)  # a fixed-size, NUL-padded buffer
        return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")

    def text(self, ids):
        return self.llm.detokenize(ids).decode("utf-8", errors="replace")

    def prompt_logits(self, ids):
        self.llm.reset()
        self.llm.eval(ids)
        return np.array(self.llm.scores[: self.llm.n_tokens], dtype=np.float32)

    def greedy(self, ids, n):
        """Greedy continuation after prompt_logits(ids) (KV cache); lowest id wins ties."""
        out = []
        last = np.array(self.llm.scores[self.llm.n_tokens - 1], dtype=np.float32)
        for _ in range(n):
            nxt = int(np.argmax(last))  # first maximum = lowest id
            out.append(nxt)
            self.llm.eval([nxt])
            last = np.array(self.llm.scores[self.llm.n_tokens - 1], dtype=np.float32)
        return out


def strict_entry(runner, ids):
    logits = runner.prompt_logits(ids)
    last = logits[-1]
    entry = {
        "last_position": {
            "argmax": int(np.argmax(last)), "argmax_logit": r5(last.max()), "logsumexp": r5(logsumexp(last)),
            "mean": r5(last.mean()), "std": r5(last.std()),  # numpy on the float32 vector, as vendored
            "top50": topk(last, 50),
        },
        "all_positions_top10": [
            {"pos": p, "token": int(ids[p]), "logsumexp": r5(logsumexp(logits[p])),
             "logit_of_next_prompt_token": r5(logits[p][ids[p + 1]]) if p + 1 < len(ids) else None,
             "top": topk(logits[p], 10)}
            for p in range(len(ids))
        ],
    }
    g = runner.greedy(ids, N_GREEDY)
    entry["greedy20"] = {"ids": g, "text": runner.text(g)}
    return entry, last.copy()


# ---------------------------------------------------------------------------------------------
# 4. transformers fp32 (optional)

def transformers_entries(gguf_path, prompts, ids_by_prompt):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(THREADS)
    d, f = os.path.split(os.path.abspath(gguf_path))
    log("loading the GGUF in transformers (fp32)...")
    # eager attention and 2 threads: that is what reproduces the vendored numbers bit for bit
    # (SDPA moves the logits by ~1e-5, 1 thread by ~8e-6)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    try:
        tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
        piece = tok.convert_ids_to_tokens
    except Exception as e:  # the token strings are cosmetic
        log(f"tokenizer from GGUF failed ({e}); token strings left empty")
        piece = None
    out = {}
    for name in prompts:
        ids = torch.tensor([ids_by_prompt[name]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0].float()
            last = logits[-1]
            lp = last - torch.logsumexp(last, -1)  # float32 (torch.log_softmax differs by ~2.6e-5 here)
            order = np.lexsort((np.arange(last.numel()), -last.double().numpy()))[:50]
            toks = piece([int(i) for i in order]) if piece else [""] * 50
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=1,
                                 max_new_tokens=N_GREEDY, min_new_tokens=N_GREEDY, eos_token_id=None,
                                 pad_token_id=0)
        out[name] = {
            "last_pos_top50": [{"id": int(i), "token": t, "logit": float(last[i]), "logprob": float(lp[i])}
                               for i, t in zip(order, toks)],
            "per_position_argmax": [int(x) for x in logits.argmax(-1)],
            "greedy_20_ids": [int(x) for x in gen[0, ids.shape[1]:]],
        }
    return out


# ---------------------------------------------------------------------------------------------
# comparison

def compare(out_json, out_st, ref_dir, tol):
    from safetensors.numpy import load_file
    a = json.load(open(out_json, encoding="utf-8"))
    b = json.load(open(os.path.join(ref_dir, JSON_NAME), encoding="utf-8"))
    fa, fb = load_file(out_st), load_file(os.path.join(ref_dir, ST_NAME))
    failures, rows = [], []

    def chk(name, d, limit, hard=True):
        rows.append((name, d, limit if hard else None))
        if hard and not d <= limit:
            failures.append(f"{name}: {d:g} > {limit:g}")

    for name, pb in b["prompts"].items():
        pa = a["prompts"].get(name)
        if pa is None:
            failures.append(f"{name} missing")
            continue
        if pa["token_ids"] != pb["token_ids"]:
            failures.append(f"{name}: token ids {pa['token_ids']} vs {pb['token_ids']}")
        if pa["token_pieces"] != pb["token_pieces"]:
            failures.append(f"{name}: token pieces {pa['token_pieces']} vs {pb['token_pieces']}")
        sa, sb = pa["strict_f32"], pb["strict_f32"]
        la, lb = sa["last_position"], sb["last_position"]
        if la["argmax"] != lb["argmax"]:
            failures.append(f"{name}: strict argmax {la['argmax']} vs {lb['argmax']}")
        chk(f"{name} strict last argmax_logit/logsumexp/mean/std",
            max(abs(la[k] - lb[k]) for k in ("argmax_logit", "logsumexp", "mean", "std")), tol)
        ta, tb = dict(map(tuple, la["top50"])), dict(map(tuple, lb["top50"]))
        common = set(ta) & set(tb)
        chk(f"{name} strict top50 logits ({len(common)}/50 ids in common)",
            max(abs(ta[i] - tb[i]) for i in common), tol)
        if [x[0] for x in la["top50"][:10]] != [x[0] for x in lb["top50"][:10]]:
            rows.append((f"{name} strict top10 order differs (near-ties?)", float("nan"), None))
        dpos = 0.0
        for qa, qb in zip(sa["all_positions_top10"], sb["all_positions_top10"]):
            dpos = max(dpos, abs(qa["logsumexp"] - qb["logsumexp"]))
            if qa["logit_of_next_prompt_token"] is not None:
                dpos = max(dpos, abs(qa["logit_of_next_prompt_token"] - qb["logit_of_next_prompt_token"]))
            xa, xb = dict(map(tuple, qa["top"])), dict(map(tuple, qb["top"]))
            for i in set(xa) & set(xb):
                dpos = max(dpos, abs(xa[i] - xb[i]))
            if qa["top"][0][0] != qb["top"][0][0]:
                failures.append(f"{name} pos {qa['pos']}: argmax {qa['top'][0][0]} vs {qb['top'][0][0]}")
        chk(f"{name} strict all-position top10/logsumexp", dpos, tol)
        if sa["greedy20"]["ids"] != sb["greedy20"]["ids"]:
            failures.append(f"{name}: strict greedy20 {sa['greedy20']['ids']} vs {sb['greedy20']['ids']}")
        else:
            rows.append((f"{name} strict greedy20 ids equal", 0.0, None))
        key = f"{name}_last_logits"
        d = float(np.abs(fa[key].astype(np.float64) - fb[key]).max())
        chk(f"{name} full last-position logits (262144)", d, tol)
        if "q4_native_llamacpp" in pb and "q4_native_llamacpp" in pa:
            qa, qb = pa["q4_native_llamacpp"], pb["q4_native_llamacpp"]
            same = qa["greedy20"]["ids"] == qb["greedy20"]["ids"] and qa["last_position_argmax"] == qb["last_position_argmax"]
            rows.append((f"{name} q4_native argmax+greedy20 {'equal' if same else 'DIFFER'}", 0.0 if same else float("nan"), None))
            if not same:  # informational: 8-bit activation quantisation depends on the SIMD path
                k = next((i for i, (x, y) in enumerate(zip(qa["greedy20"]["ids"], qb["greedy20"]["ids"])) if x != y), 20)
                rows.append((f"{name}   q4 argmax {qa['last_position_argmax']} vs {qb['last_position_argmax']}, "
                             f"greedy equal for {k} tokens", float("nan"), None))
        if "transformers_fp32" in pb and "transformers_fp32" in pa:
            xa, xb = pa["transformers_fp32"], pb["transformers_fp32"]
            da = {e["id"]: e["logit"] for e in xa["last_pos_top50"]}
            db = {e["id"]: e["logit"] for e in xb["last_pos_top50"]}
            d = max(abs(da[i] - db[i]) for i in set(da) & set(db))
            chk(f"{name} transformers_fp32 top50 logits", d, tol)
            same = xa["per_position_argmax"] == xb["per_position_argmax"] and xa["greedy_20_ids"] == xb["greedy_20_ids"]
            rows.append((f"{name} transformers_fp32 argmax+greedy20 {'equal' if same else 'DIFFER'}", 0.0 if same else float("nan"), None))
            if not same:
                failures.append(f"{name}: transformers_fp32 ids differ")
    # every JSON value of the llama.cpp parts (ids, pieces, texts, rounded logits), compared exactly
    def leaves(o, pre=""):
        if isinstance(o, dict):
            for k, v in o.items():
                yield from leaves(v, f"{pre}.{k}")
        elif isinstance(o, list):
            for i, v in enumerate(o):
                yield from leaves(v, f"{pre}[{i}]")
        else:
            yield pre, o
    for part in ("token_ids", "token_pieces", "strict_f32", "q4_native_llamacpp", "transformers_fp32"):
        la = dict(leaves({n: p.get(part) for n, p in a["prompts"].items() if part in b["prompts"][n]}))
        lb = dict(leaves({n: p.get(part) for n, p in b["prompts"].items()}))
        lb = {k: v for k, v in lb.items() if v is not None or k in la}
        if not any(part in p for p in b["prompts"].values()) or not any(part in p for p in a["prompts"].values()):
            continue
        same = sum(1 for k, v in lb.items() if la.get(k, object()) == v)
        rows.append((f"JSON {part}: {same}/{len(lb)} values identical", 0.0 if same == len(lb) else float("nan"), None))
    print(f"{'comparison with ' + ref_dir:<62} {'max abs diff':>12}  limit")
    for name, d, lim in rows:
        print(f"{name:<62} {d:12.3g}  {'' if lim is None else f'{lim:g}'}")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--gguf", default=os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--f32", default=None,
                    help="where to write/reuse the F32 copy (default: ~/.cache/dyag/refs/gemma-3-270m-f32.gguf, 1.1 GB)")
    ap.add_argument("--ref", default=VENDORED)
    ap.add_argument("--transformers", action="store_true", help="also compute transformers_fp32 (P1, P2)")
    ap.add_argument("--no-q4", action="store_true", help="skip q4_native_llamacpp")
    ap.add_argument("--q4-kv-f16", action="store_true", help="q4_native with llama.cpp's default F16 KV cache")
    ap.add_argument("--llama-lib", default=None, help="folder with libllama.so + libggml*.so to use instead of the wheel's")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="max abs logit difference accepted for strict_f32 (and transformers_fp32); default 1e-4")
    args = ap.parse_args()
    if args.llama_lib:
        for lib in ("libllama.so", "libggml.so", "libggml-base.so", "libggml-cpu.so"):
            if not os.path.exists(os.path.join(args.llama_lib, lib)):
                sys.exit(f"--llama-lib {args.llama_lib}: {lib} is missing")
        os.environ["LLAMA_CPP_LIB_PATH"] = os.path.abspath(args.llama_lib)  # read when llama_cpp is imported
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "dyag", "refs")
    f32_path = args.f32 or os.path.join(cache, "gemma-3-270m-f32.gguf")
    os.makedirs(os.path.dirname(os.path.abspath(f32_path)), exist_ok=True)
    os.makedirs(args.out_dir, exist_ok=True)

    digest = sha256(args.gguf)
    log(f"{args.gguf}: sha256 {digest}")
    ref = json.load(open(os.path.join(args.ref, JSON_NAME), encoding="utf-8"))
    f32_info = make_f32(args.gguf, f32_path)

    import llama_cpp
    result = {
        "model": f"{os.path.basename(args.gguf)} (sha256 {digest})",
        "bos_prepended": True,
        "notes": ref.get("notes", ""),
        "prompts": {},
    }
    ids_by_prompt, last_logits = {}, {}
    t0 = time.time()
    runner = LlamaRunner(f32_path, kv_f32=True)
    for name, p in ref["prompts"].items():
        ids = runner.tokenize(p["text"])
        ids_by_prompt[name] = ids
        entry, last = strict_entry(runner, ids)
        last_logits[f"{name}_last_logits"] = last
        result["prompts"][name] = {"text": p["text"], "token_ids": ids,
                                   "token_pieces": [runner.piece(t) for t in ids], "strict_f32": entry}
        log(f"{name}: strict argmax {entry['last_position']['argmax']}, greedy {entry['greedy20']['text']!r}")
    del runner
    log(f"strict_f32 done in {time.time() - t0:.1f} s")

    if not args.no_q4:
        runner = LlamaRunner(args.gguf, kv_f32=not args.q4_kv_f16)
        for name in ref["prompts"]:
            ids = ids_by_prompt[name]
            last = runner.prompt_logits(ids)[-1]
            g = runner.greedy(ids, N_GREEDY)
            result["prompts"][name]["q4_native_llamacpp"] = {"last_position_argmax": int(np.argmax(last)),
                                                             "greedy20": {"ids": g, "text": runner.text(g)}}
        del runner

    if args.transformers:
        names = [n for n, p in ref["prompts"].items() if "transformers_fp32" in p]
        for name, entry in transformers_entries(args.gguf, names, ids_by_prompt).items():
            result["prompts"][name]["transformers_fp32"] = entry

    provenance = {
        "script": "scripts/refs/make_gemma3_refs.py",
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_commit": "0c1e570 (LLAMA_BUILD_COMMIT of the llama-cpp-python 0.3.36 sources)",
        "llama_lib": llama_lib_dir(),
        "llama_system_info": llama_cpp.llama_print_system_info().decode(),
        "threads": THREADS,
        "f32_copy": f32_info,
    }
    out_json = os.path.join(args.out_dir, JSON_NAME)
    with open(out_json, "w", encoding="utf-8") as f:  # the vendored file's layout: compact, raw UTF-8
        json.dump(result, f, separators=(",", ":"), ensure_ascii=False)
    with open(os.path.join(args.out_dir, "regenerated_by.json"), "w") as f:
        json.dump(provenance, f, indent=2)
        f.write("\n")
    from safetensors.numpy import save_file
    out_st = os.path.join(args.out_dir, ST_NAME)
    save_file(last_logits, out_st)
    log(f"wrote {out_json} and {out_st}")

    failures = compare(out_json, out_st, args.ref, args.tol)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("OK: within tolerance")


if __name__ == "__main__":
    main()
