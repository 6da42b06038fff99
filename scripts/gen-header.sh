#!/bin/sh
# Regenerates include/dyag.h from src/ffi/*.rs with cbindgen (cbindgen.toml).
# tests/capi_header.rs fails while the checked-in header differs from this output.
set -eu
cd "$(dirname "$0")/.."
DYAG_UPDATE_HEADER=1 cargo test --quiet --test capi_header
echo "include/dyag.h regenerated" >&2
