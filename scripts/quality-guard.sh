#!/usr/bin/env bash
# The quality regression guard (tests/quality_regression.rs): the default
# path (generate-training, finetune, in-loop evaluation) on five records of the
# benchmark's dev catalogue must keep answering hand-written questions about
# them. About 9 minutes on 2 cores, so not part of CI's test run: run it
# before landing a change to the generator, the recipe or the engine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh
exec cargo test --release --test quality_regression -- --ignored --nocapture
