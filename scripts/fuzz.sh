#!/usr/bin/env bash
# Fuzzes dyag's file readers and chat templates with cargo-fuzz (libFuzzer +
# AddressSanitizer) on the stable toolchain (RUSTC_BOOTSTRAP=1 lets stable
# rustc take the sanitizer flags). Targets: fuzz/harness.rs; corpora:
# fuzz/corpus/<target>/; what a run finds goes to fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]   build, then fuzz each target for SECONDS (default 120)
#   scripts/fuzz.sh --replay TARGET FILE...  run the target once on each FILE (a crash reproduces)
#   scripts/fuzz.sh --cmin [TARGET|all]      minimise the corpora in place: the named seeds, plus the
#                                            finds that add coverage (libFuzzer -merge=1 on edge
#                                            coverage only, -use_counters=0, to keep the committed corpora
#                                            small; a campaign regains the hit-count variety in seconds)
#   scripts/fuzz.sh --seeds                  (re)write the named seeds (fuzz/make_seeds.py) into the corpora
#
# A run keeps going past crashes, timeouts and out-of-memory inputs (fork
# mode, -ignore_*), so one known bug does not stop the campaign; it prints the
# executions, the new corpus files and the artifacts of each target. Limits:
# 2 GiB RSS, 512 MiB for a single allocation (inputs are at most 64 KiB: an
# allocation that large is a hostile size taken on trust), 10 s per input,
# and a maximum input length per target. One fuzzing process at a time,
# one thread (RAYON_NUM_THREADS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1 RAYON_NUM_THREADS=1
TARGETS=(gguf safetensors hf_config peft chat_jsonl questions results catalogue_md catalogue_jsonl chat_template)
max_len() {
  case "$1" in
    gguf) echo 65536 ;;
    safetensors | peft) echo 16384 ;;
    results | catalogue_md) echo 8192 ;;
    *) echo 4096 ;;
  esac
}
bin_dir="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

build() {
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  nice -n 19 cargo fuzz build --fuzz-dir fuzz "$@" >&2
}

targets_of() {
  if [ -z "${1:-}" ] || [ "$1" = all ]; then printf '%s\n' "${TARGETS[@]}"; else
    printf '%s\n' "${TARGETS[@]}" | grep -qx "$1" || { echo "unknown target '$1' (${TARGETS[*]})" >&2; exit 2; }
    echo "$1"
  fi
}

case "${1:-}" in
  --seeds)
    exec python3 fuzz/make_seeds.py
    ;;
  --replay)
    t="$2"; shift 2
    targets_of "$t" >/dev/null
    build "$t"
    exec "$bin_dir/$t" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 "$@"
    ;;
  --cmin)
    for t in $(targets_of "${2:-all}"); do
      build "$t"
      dir="fuzz/corpus/$t"; tmp="$(mktemp -d)"
      before=$(ls "$dir" | wc -l)
      # The named seeds (fuzz/make_seeds.py) stay; the fuzzer's finds (named
      # after their SHA-1) stay when they add coverage.
      find "$dir" -maxdepth 1 -type f ! -regex '.*/[0-9a-f]\{40\}' -exec cp {} "$tmp/" \;
      nice -n 19 "$bin_dir/$t" -merge=1 -use_counters=0 -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -max_len="$(max_len "$t")" "$tmp" "$dir" \
        2>"fuzz/cmin-$t.log" || { echo "$t: merge failed, corpus kept (fuzz/cmin-$t.log)" >&2; rm -rf "$tmp"; continue; }
      chmod 755 "$tmp"; rm -rf "$dir"; mv "$tmp" "$dir"; rm -f "fuzz/cmin-$t.log"
      echo "$t: $before -> $(ls "$dir" | wc -l) files, $(du -sh "$dir" | cut -f1)"
    done
    exit 0
    ;;
esac

seconds="${2:-120}"
list=$(targets_of "${1:-all}")
build
mkdir -p fuzz/logs
printf '%-16s %12s %9s %8s %s\n' target executions exec/s "+corpus" artifacts
for t in $list; do
  dir="fuzz/corpus/$t"; art="fuzz/artifacts/$t"; log="fuzz/logs/$t.log"
  mkdir -p "$dir" "$art"
  files_before=$(ls "$dir" | wc -l); art_before=$(ls "$art" | wc -l)
  # Fork mode: the parent keeps the corpus and survives the child's crashes.
  nice -n 19 "$bin_dir/$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -max_len="$(max_len "$t")" -max_total_time="$seconds" \
    -artifact_prefix="$art/" -print_final_stats=1 "$dir" >"$log" 2>&1 || true
  # Fork-mode status lines: "#<executions>: cov: ... exec/s: ... time: <s>s ...".
  last=$(grep -E '^#[0-9]+: ' "$log" | tail -n 1 || true)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  secs=$(sed -nE 's/.* time: ([0-9]+)s.*/\1/p' <<<"$last")
  rate=$([ -n "$execs" ] && [ "${secs:-0}" -gt 0 ] && echo $((execs / secs)) || echo "?")
  new_art=$(($(ls "$art" | wc -l) - art_before))
  printf '%-16s %12s %9s %8s %s\n' "$t" "${execs:-?}" "$rate" "$(($(ls "$dir" | wc -l) - files_before))" \
    "$new_art new in $art$( [ "$new_art" -gt 0 ] && echo ": $(ls -t "$art" | head -n "$new_art" | sed -E 's/-.*//' | sort | uniq -c | xargs)")"
done
