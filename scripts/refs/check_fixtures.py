#!/usr/bin/env python3
"""Compare regenerated fixtures with the vendored ones (tests/data/fixtures).

  check_fixtures.py DIR [DIR2 ...]     compare each DIR/<family>/ (written by make_fixtures.py)
  check_fixtures.py --regenerate       run make_fixtures.py twice into a temporary folder and compare both:
                                         seeds/     everything regenerated from the seeds
                                         vendored/  references recomputed from the VENDORED model + adapter
                                                    (--weights-from tests/data/fixtures)

For every family it checks
  - model/model.safetensors and peft_adapter/adapter_model.safetensors: same keys, dtypes, shapes and
    bit-equal values (reported, and a failure unless --weights-may-differ);
  - model/config.json, generation_config.json, adapter_config.json: equal as JSON (list order of
    target_modules ignored: PEFT writes a Python set);
  - reference.safetensors, tensor by tensor: max |a-b| and max |a-b| / max |ref| ("rel"); integer
    tensors (inputs, labels, generated ids) must be equal; floating tensors fail when rel > --rtol
    (default 1e-5) and max |a-b| > --atol (default 0);
  - meta.json numbers: versions, config, optimizer numbers and generated ids (rel --rtol); the
    observed fp32-vs-fp64 tolerances and the verification record are printed for information only;
  - the tokenizer: tests/data/fixtures/tokenizer/meta.json's reference encodings are reproduced by HF
    tokenizers (the tokenizer itself cannot be retrained: its ~2 KB training text is not available).

Prints a table per family and exits 1 if anything is beyond tolerance.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENDORED = os.path.join(ROOT, "tests", "data", "fixtures")
FAMILIES = ["llama", "qwen2", "gemma3", "phi3"]
INFO_ONLY_META = ("tolerances_observed", "verification")


class Report:
    def __init__(self):
        self.failures = []

    def fail(self, msg):
        self.failures.append(msg)
        print(f"  FAIL {msg}")


def compare_weights(rep, what, a_path, b_path, must_equal):
    a, b = load_file(a_path), load_file(b_path)
    if set(a) != set(b):
        rep.fail(f"{what}: key sets differ: {sorted(set(a) ^ set(b))[:6]}")
    n_eq, worst, worst_key = 0, 0.0, ""
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if x.dtype != y.dtype or x.shape != y.shape:
            rep.fail(f"{what}: {k}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
            continue
        if torch.equal(x.view(torch.uint8) if x.is_floating_point() else x,
                       y.view(torch.uint8) if y.is_floating_point() else y):
            n_eq += 1
        else:
            d = float((x.double() - y.double()).abs().max())
            if d > worst:
                worst, worst_key = d, k
    total = len(set(a) & set(b))
    status = "bit-equal" if n_eq == total and set(a) == set(b) else f"{total - n_eq} differ (worst abs {worst:.3g} {worst_key})"
    print(f"  {what:<40} {total:4d} tensors  {status}")
    if n_eq != total and must_equal:
        rep.fail(f"{what}: {total - n_eq} of {total} tensors are not bit-equal")
    return n_eq == total


def _norm_json(o):
    if isinstance(o, dict):
        return {k: _norm_json(v) for k, v in o.items()}
    if isinstance(o, list):
        return sorted(o, key=json.dumps) if all(isinstance(x, str) for x in o) else [_norm_json(x) for x in o]
    return o


def compare_json_file(rep, what, a_path, b_path):
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    if _norm_json(a) == _norm_json(b):
        print(f"  {what:<40} equal")
        return
    diff = sorted(k for k in set(a) | set(b) if _norm_json(a.get(k)) != _norm_json(b.get(k)))
    rep.fail(f"{what}: differs in {diff}")


def compare_references(rep, a_path, b_path, rtol, atol, full):
    a, b = load_file(a_path), load_file(b_path)
    missing, extra = sorted(set(b) - set(a)), sorted(set(a) - set(b))
    if missing:
        rep.fail(f"reference.safetensors: missing {missing[:6]}{' ...' if len(missing) > 6 else ''}")
    if extra:
        rep.fail(f"reference.safetensors: unexpected {extra[:6]}")
    rows, worst_rel, n_bit = [], (0.0, ""), 0
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if x.dtype != y.dtype or x.shape != y.shape:
            rep.fail(f"{k}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
            continue
        bit = torch.equal(x, y)
        n_bit += bit
        if not x.is_floating_point():
            ok = bit
            rows.append((k, str(y.dtype).replace("torch.", ""), list(y.shape), 0.0 if bit else float("nan"),
                         0.0 if bit else float("nan"), bit, ok))
            if not ok:
                rep.fail(f"{k}: integer tensor differs: {x.flatten()[:16].tolist()} vs {y.flatten()[:16].tolist()}")
            continue
        d = float((x.double() - y.double()).abs().max())
        m = float(y.double().abs().max())
        rel = d / m if m > 0 else (0.0 if d == 0 else math.inf)
        ok = rel <= rtol or d <= atol
        rows.append((k, str(y.dtype).replace("torch.", ""), list(y.shape), d, rel, bit, ok))
        if rel > worst_rel[0]:
            worst_rel = (rel, k)
        if not ok:
            rep.fail(f"{k}: max abs {d:.3g}, rel {rel:.3g} > {rtol:g}")
    print(f"  {'tensor':<78} {'dtype':<7} {'shape':<13} {'max abs':>9} {'rel':>9}  status")
    for k, dt, shape, d, rel, bit, ok in rows:
        if full or not bit or not ok:
            status = "bit-equal" if bit else ("ok" if ok else "FAIL")
            print(f"  {k:<78} {dt:<7} {str(shape).replace(' ', ''):<13} {d:9.2e} {rel:9.2e}  {status}")
    if not full and n_bit:
        print(f"  ({n_bit} bit-equal tensors not listed; --full lists every tensor)")
    print(f"  reference.safetensors: {len(rows)} tensors compared, {n_bit} bit-equal, "
          f"worst rel {worst_rel[0]:.3g} {worst_rel[1]}")
    return worst_rel[0], n_bit, len(rows)


def _leaves(o, prefix=""):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(o, list) and o and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in o):
        yield prefix, o
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, o


def compare_meta(rep, a_path, b_path, rtol):
    with open(a_path) as f:
        a = dict(_leaves(json.load(f)))
    with open(b_path) as f:
        b = dict(_leaves(json.load(f)))
    common = [k for k in b if k in a and not k.startswith(("init.", "lora.peft_config.target_modules"))]
    n_checked, n_info, worst = 0, 0, (0.0, "")
    for k in common:
        x, y = a[k], b[k]
        info = k.startswith(INFO_ONLY_META)
        if k == "versions.torch":  # the local/ CUDA suffix is irrelevant on CPU
            x, y = str(x).split("+")[0], str(y).split("+")[0]
        if isinstance(y, list) or isinstance(y, (int, float)) and not isinstance(y, bool):
            xs = x if isinstance(x, list) else [x]
            ys = y if isinstance(y, list) else [y]
            if len(xs) != len(ys) or any(not isinstance(v, (int, float)) for v in xs):
                rep.fail(f"meta.json {k}: {x} vs {y}")
                continue
            d = max((abs(p - q) for p, q in zip(xs, ys)), default=0.0)
            mx = max((abs(q) for q in ys), default=0.0)
            rel = d / mx if mx else (0.0 if d == 0 else math.inf)
            if info:
                n_info += 1
                if d:
                    print(f"  meta.json {k}: {x} vs vendored {y} (information only)")
                continue
            n_checked += 1
            if rel > worst[0]:
                worst = (rel, k)
            if rel > rtol:
                rep.fail(f"meta.json {k}: {x} vs {y} (rel {rel:.3g})")
        else:
            if info:
                n_info += 1
                if x != y:
                    print(f"  meta.json {k}: {x} vs vendored {y} (information only)")
                continue
            n_checked += 1
            if x != y:
                rep.fail(f"meta.json {k}: {x!r} vs {y!r}")
    print(f"  meta.json: {n_checked} values checked (worst rel {worst[0]:.3g} {worst[1]}), "
          f"{n_info} informational values compared")


def check_tokenizer(rep, tok_dir):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    with open(os.path.join(tok_dir, "meta.json")) as f:
        meta = json.load(f)
    ok = True
    if tok.get_vocab_size() != meta["vocab_size"]:
        rep.fail(f"tokenizer: vocab size {tok.get_vocab_size()} != {meta['vocab_size']}")
        ok = False
    for t, i in meta["special_token_ids"].items():
        if tok.token_to_id(t) != i:
            rep.fail(f"tokenizer: {t} -> {tok.token_to_id(t)}, expected {i}")
            ok = False
    merges = json.load(open(os.path.join(tok_dir, "tokenizer.json")))["model"]["merges"]
    if len(merges) != meta["num_merges"]:
        rep.fail(f"tokenizer: {len(merges)} merges, expected {meta['num_merges']}")
        ok = False
    for e in meta["reference_encodings"]:
        enc = tok.encode(e["text"])
        dec = tok.decode(enc.ids, skip_special_tokens=False)
        if enc.ids != e["ids"] or enc.tokens != e["tokens"] or dec != e["decoded"]:
            rep.fail(f"tokenizer: encoding of {e['text']!r} differs: {enc.ids} vs {e['ids']}")
            ok = False
    print(f"  tokenizer ({tok_dir}): {len(meta['reference_encodings'])} reference encodings "
          f"{'reproduced exactly (ids, tokens, decoded text)' if ok else 'NOT reproduced'}")


def check_dir(rep, out_dir, families, args, weights_may_differ):
    summary = {}
    for fam in families:
        a, b = os.path.join(out_dir, fam), os.path.join(args.ref, fam)
        print(f"\n== {fam}: {a} vs {b}")
        if not os.path.isdir(a):
            rep.fail(f"{a} does not exist")
            continue
        w1 = compare_weights(rep, "model/model.safetensors", os.path.join(a, "model", "model.safetensors"),
                             os.path.join(b, "model", "model.safetensors"), not weights_may_differ)
        w2 = compare_weights(rep, "peft_adapter/adapter_model.safetensors",
                             os.path.join(a, "peft_adapter", "adapter_model.safetensors"),
                             os.path.join(b, "peft_adapter", "adapter_model.safetensors"), not weights_may_differ)
        for f in ("model/config.json", "model/generation_config.json", "peft_adapter/adapter_config.json"):
            compare_json_file(rep, f, os.path.join(a, f), os.path.join(b, f))
        worst, n_bit, n = compare_references(rep, os.path.join(a, "reference.safetensors"),
                                             os.path.join(b, "reference.safetensors"), args.rtol, args.atol, args.full)
        if os.path.exists(os.path.join(a, "meta.json")):
            compare_meta(rep, os.path.join(a, "meta.json"), os.path.join(b, "meta.json"), args.rtol)
        summary[fam] = (w1 and w2, worst, n_bit, n)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="*", help="folders written by make_fixtures.py")
    ap.add_argument("--regenerate", action="store_true",
                    help="run make_fixtures.py from seeds and from the vendored weights, then compare both")
    ap.add_argument("--keep", default=None, help="with --regenerate: write into this folder instead of a temporary one")
    ap.add_argument("--ref", default=VENDORED, help="vendored fixtures (default: tests/data/fixtures)")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--rtol", type=float, default=1e-5, help="max |a-b| / max|ref| allowed per tensor")
    ap.add_argument("--atol", type=float, default=0.0)
    ap.add_argument("--full", action="store_true", help="list every tensor, not only those that differ")
    ap.add_argument("--weights-may-differ", action="store_true",
                    help="report but do not fail on model/adapter weights that are not bit-equal")
    args = ap.parse_args()
    families = args.families.split(",")
    torch.set_num_threads(1)

    runs = [(d, args.weights_may_differ) for d in args.dirs]
    if args.regenerate:
        base = args.keep or tempfile.mkdtemp(prefix="dyag-fixtures-")
        maker = os.path.join(HERE, "make_fixtures.py")
        for sub, extra in (("seeds", []), ("vendored", ["--weights-from", args.ref])):
            out = os.path.join(base, sub)
            print(f"running make_fixtures.py {out} {' '.join(extra)}", flush=True)
            subprocess.run([sys.executable, maker, out, "--families", args.families, *extra], check=True)
            runs.append((out, args.weights_may_differ if sub == "seeds" else False))
    if not runs:
        ap.error("give a folder or --regenerate")

    rep = Report()
    summaries = []
    for d, wmd in runs:
        print(f"\n######## {d}")
        summaries.append((d, check_dir(rep, d, families, args, wmd)))
    print("\n== tokenizer")
    check_tokenizer(rep, os.path.join(args.ref, "tokenizer"))

    print("\n== summary")
    print(f"  {'folder':<50} {'family':<7} {'weights+adapter':<16} {'reference tensors':<24} worst rel")
    for d, s in summaries:
        for fam, (weq, worst, n_bit, n) in s.items():
            print(f"  {d[-50:]:<50} {fam:<7} {'bit-equal' if weq else 'DIFFER':<16} "
                  f"{f'{n_bit}/{n} bit-equal':<24} {worst:.3g}")
    if rep.failures:
        print(f"\nFAILED: {len(rep.failures)} problem(s)")
        sys.exit(1)
    print("\nOK: everything within tolerance")


if __name__ == "__main__":
    main()
