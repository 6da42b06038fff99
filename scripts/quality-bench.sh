#!/usr/bin/env bash
# The answer-quality benchmark (benches/quality/): train on one of its
# catalogues as a user would, then score the fine-tuned model, RAG and the
# hybrid on its hand-written questions, per kind of question.
#
# Usage: scripts/quality-bench.sh SET NAME [generate-training flags] -- [finetune flags]
#   SET   dev (tune on it) or test (report only)
#   NAME  the run's folder: runs/quality/SET/NAME
# Example (dyag's default path):
#   scripts/quality-bench.sh test default --method augmented --
# Example (the seed's explicit recipe):
#   scripts/quality-bench.sh test seed --method augmented --count 1000 -- --epochs 3 --batch-size 4
# finetune gets --eval-questions on the generated validation questions unless
# the flags name other ones.
# Environment: THREADS (default 2), MODES (default "finetuned rag hybrid"),
# MAX_TOKENS (default 96), SEED (generate-training and finetune seed, default 42).
# Prints the per-kind table and writes it to runs/quality/SET/NAME/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
set_name="${1:?usage: $0 dev|test NAME [generate-training flags] -- [finetune flags]}"
name="${2:?run name}"
shift 2
gen_flags=()
while [[ $# -gt 0 && "$1" != "--" ]]; do gen_flags+=("$1"); shift; done
[[ "${1:-}" == "--" ]] && shift
ft_flags=("$@")
threads="${THREADS:-2}"
modes="${MODES:-finetuned rag hybrid}"
max_tokens="${MAX_TOKENS:-96}"
seed="${SEED:-42}"
bench="benches/quality/$set_name"
[[ -f "$bench/catalogue.jsonl" && -f "$bench/questions.jsonl" ]] || { echo "no benchmark set $bench" >&2; exit 2; }
out="runs/quality/$set_name/$name"
mkdir -p "$out"
scripts/fetch-model.sh >&2
cargo build --release --quiet
dyag=target/release/dyag
step() { printf '\n==> %s\n' "$*" >&2; }

if [[ ! -f "$out/model/final/adapter_model.safetensors" ]]; then
  if [[ ! -f "$out/dataset_train.jsonl" ]]; then # (a dataset already there is used as it is)
    step "generate-training ${gen_flags[*]}"
    "$dyag" generate-training "$bench/catalogue.jsonl" --split --seed "$seed" --output "$out/dataset.jsonl" "${gen_flags[@]}"
  fi
  # In-loop evaluation on the generated validation questions (never the benchmark's), as run-workflow does.
  if [[ -f "$out/dataset_val_questions.jsonl" && " ${ft_flags[*]} " != *" --eval-questions "* ]]; then
    ft_flags+=(--eval-questions "$out/dataset_val_questions.jsonl")
  fi
  step "finetune ${ft_flags[*]}"
  start=$SECONDS
  "$dyag" finetune --dataset "$out/dataset_train.jsonl" --val-dataset "$out/dataset_val.jsonl" --output "$out/model" \
    --base-model gemma3:270m --force-cpu --threads "$threads" --seed "$seed" "${ft_flags[@]}"
  echo "$((SECONDS - start))" > "$out/train_seconds"
fi
for mode in $modes; do
  [[ -f "$out/results_$mode.json" ]] && continue
  step "evaluate: $mode"
  case "$mode" in
    finetuned) "$dyag" evaluate-finetuned "$bench/questions.jsonl" --model "$out/model/final" --output "$out/results_$mode.json" \
                 --max-tokens "$max_tokens" --device cpu --threads "$threads" || true ;;
    rag) "$dyag" evaluate-rag "$bench/questions.jsonl" --corpus "$bench/catalogue.jsonl" --base-model gemma3:270m \
           --output "$out/results_$mode.json" --max-tokens "$max_tokens" --device cpu --threads "$threads" || true ;;
    hybrid) "$dyag" evaluate-rag "$bench/questions.jsonl" --corpus "$bench/catalogue.jsonl" --base-model gemma3:270m --hybrid \
              --model "$out/model/final" --output "$out/results_$mode.json" --max-tokens "$max_tokens" --device cpu --threads "$threads" || true ;;
  esac
done
python3 benches/quality/summarize.py "$out" | tee "$out/summary.md"
