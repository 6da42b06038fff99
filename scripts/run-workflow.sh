#!/usr/bin/env bash
# dyag's main job: the whole workflow on the bundled example catalogue
# (examples/catalogue, 15 invented applications, French) and the embedded
# default model, Gemma 3 270M (GGUF Q4_K_M), on the CPU:
#   generate-training → finetune → query-finetuned → evaluate-finetuned
#   → evaluate-rag (RAG, then hybrid RAG + adapter) → compare-models.
# Installs what it needs (the model, a release build) and is idempotent.
# Usage: scripts/run-workflow.sh [OUTPUT_DIR]   (default runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/demo}"
catalogue=examples/catalogue/applications.jsonl

step() { printf '\n==> %s\n' "$*" >&2; }

step "model (scripts/fetch-model.sh)"
scripts/fetch-model.sh
step "build (cargo build --release)"
cargo build --release --quiet
dyag=target/release/dyag
mkdir -p "$out"

step "1. generate-training: the default (augmented: fiches, varied questions, reverse questions, refusals; count for ~24 exposures per fact), split 80/10/10"
"$dyag" generate-training "$catalogue" --split --seed 42 --output "$out/dataset.jsonl"

step "2. finetune: LoRA r16/α32 on gemma3:270m, 3 epochs, lr 5e-4 (defaults, measured on benches/quality), best epoch on the held-out validation questions (CPU)"
rm -rf "$out/model"
"$dyag" finetune --dataset "$out/dataset_train.jsonl" --val-dataset "$out/dataset_val.jsonl" \
  --eval-questions "$out/dataset_val_questions.jsonl" --output "$out/model" --base-model gemma3:270m --force-cpu

step "3. query-finetuned"
"$dyag" query-finetuned "Qu'est-ce que GIDAF ?" --model "$out/model/final" --temperature 0 --max-tokens 80 --device cpu -v

step "4. evaluate-finetuned on the held-out test questions"
"$dyag" evaluate-finetuned "$out/dataset_test_questions.jsonl" --model "$out/model/final" \
  --output "$out/results_finetuned.json" --max-tokens 80 --device cpu

step "5. evaluate-rag: BM25 retrieval over the catalogue + base model (completion prompt), then hybrid (retrieval + adapter)"
"$dyag" evaluate-rag "$out/dataset_test_questions.jsonl" --corpus "$catalogue" --base-model gemma3:270m \
  --output "$out/results_rag.json" --max-tokens 80 --device cpu
"$dyag" evaluate-rag "$out/dataset_test_questions.jsonl" --corpus "$catalogue" --base-model gemma3:270m \
  --hybrid --model "$out/model/final" --output "$out/results_hybrid.json" --max-tokens 80 --device cpu

step "6. compare-models: JSON, Markdown and HTML reports"
"$dyag" compare-models --rag-results "$out/results_rag.json" --finetuned-results "$out/results_finetuned.json" \
  --hybrid-results "$out/results_hybrid.json" --output "$out/report" --format all

step "done: reports in $out/report (open $out/report/*.html in a browser)"
ls -1 "$out/report" >&2
