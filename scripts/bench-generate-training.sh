#!/usr/bin/env bash
# Benchmark (not a test): generate-training on a 1,000-record catalogue made
# from the example catalogue (records renamed APP0001...), 10,000 examples,
# rule-based then augmented. Target from issue 4: under 5 s each.
# Usage: scripts/bench-generate-training.sh [path/to/dyag]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dyag="${1:-$root/target/release/dyag}"
[ -x "$dyag" ] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
awk '{ for (i = 0; i < 67 && count < 1000; i++) { count++; n = sprintf("APP%04d", count); line = $0; sub(/"nom": "[^"]*"/, "\"nom\": \"" n "\"", line); print line } }' \
  "$root/examples/catalogue/applications.jsonl" > "$work/cat.jsonl"
echo "records: $(wc -l < "$work/cat.jsonl")" >&2
for method in rule-based augmented; do
  start=$(date +%s.%N)
  "$dyag" generate-training "$work/cat.jsonl" -o "$work/out.jsonl" --method "$method" --count 10000 --split 2>/dev/null
  end=$(date +%s.%N)
  printf '%s: %s examples in %.2f s\n' "$method" "$(cat "$work"/out_{train,val,test}.jsonl | wc -l)" "$(echo "$end - $start" | bc)"
done
