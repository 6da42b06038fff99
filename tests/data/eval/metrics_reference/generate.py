"""Computes the reference BLEU and ROUGE-L numbers for sample.jsonl.

Run once (see README.md) and commit expected.json:
    python3 -m venv /tmp/evalref && /tmp/evalref/bin/pip install sacrebleu rouge-score
    /tmp/evalref/bin/python generate.py
"""
import json
import pathlib
from importlib.metadata import version

import sacrebleu
from rouge_score import rouge_scorer, tokenize
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

here = pathlib.Path(__file__).parent
pairs = [json.loads(l) for l in (here / "sample.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]

scorer = rouge_scorer.RougeScorer(["rougeL"])  # defaults: no stemmer, default tokenizer
tok13a = Tokenizer13a()
out = []
for p in pairs:
    h, r = p["hypothesis"], p["reference"]
    out.append({
        "id": p["id"],
        # sacreBLEU's defaults for one segment: 13a, exp smoothing, effective order.
        "sentence_bleu": sacrebleu.sentence_bleu(h, [r]).score,
        # rouge_scorer.score(target, prediction)
        "rouge_l_f": scorer.score(r, h)["rougeL"].fmeasure,
        # BLEU preprocesses with rstrip() then the tokenizer.
        "tokens_13a": tok13a(h.rstrip()).split(),
        "rouge_tokens": tokenize.tokenize(h, None),
    })

hyps = [p["hypothesis"] for p in pairs]
refs = [p["reference"] for p in pairs]
expected = {
    "generated_by": "generate.py",
    "sacrebleu_version": version("sacrebleu"),
    "rouge_score_version": version("rouge-score"),
    "pairs": out,
    # corpus_bleu(hyps, [refs]) with sacreBLEU's defaults.
    "corpus_bleu": sacrebleu.corpus_bleu(hyps, [refs]).score,
    # The same on the first half only, a second corpus-level check.
    "corpus_bleu_first_half": sacrebleu.corpus_bleu(hyps[: len(hyps) // 2], [refs[: len(refs) // 2]]).score,
}
(here / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"{len(out)} pairs; corpus BLEU {expected['corpus_bleu']:.4f}")
