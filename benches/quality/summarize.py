#!/usr/bin/env python3
"""Per-kind table of a quality-benchmark run (scripts/quality-bench.sh).

Usage: summarize.py RUN_DIR [RUN_DIR ...]
Reads RUN_DIR/results_{finetuned,rag,hybrid}.json (dyag results schema 2) and
prints, per system and kind of question, the share of right answers with its
95 % Wilson interval, the echoes, and RAG's retrieval hit rate (top-k)."""
import json
import os
import sys

KINDS = ["direct", "paraphrase", "multi", "negative"]


def cell(k):
    if not k or not k.get("judged"):
        return "—"
    lo, hi = k["correct_ci95"]
    return f"{100 * k['correct_rate']:.0f} % [{100 * lo:.0f}–{100 * hi:.0f}]"


def main(dirs):
    print("| run | system | " + " | ".join(KINDS) + " | all | echoes | retrieval hit (direct+paraphrase) | train min |")
    print("|---|---|" + "---|" * len(KINDS) + "---|---|---|---|")
    for d in dirs:
        minutes = "—"
        p = os.path.join(d, "train_seconds")
        if os.path.exists(p):
            minutes = f"{int(open(p).read()) / 60:.1f}"
        for system in ["finetuned", "rag", "hybrid"]:
            p = os.path.join(d, f"results_{system}.json")
            if not os.path.exists(p):
                continue
            r = json.load(open(p))
            a = r["aggregates"]
            per = a.get("per_kind", {})
            hits = [q["retrieval_hit"] for q in r["questions"] if q.get("kind") in ("direct", "paraphrase") and q.get("retrieval_hit") is not None]
            hit = f"{100 * sum(hits) / len(hits):.0f} %" if hits else "—"
            allk = {"judged": sum(per[k]["judged"] for k in per), "correct_rate": a.get("correct_rate"), "correct_ci95": a.get("correct_ci95")}
            print(f"| {'/'.join(d.rstrip('/').split('/')[-2:])} | {system} | " + " | ".join(cell(per.get(k)) for k in KINDS)
                  + f" | {cell(allk)} | {a.get('echoes', '—')} | {hit} | {minutes} |")


if __name__ == "__main__":
    main(sys.argv[1:])
