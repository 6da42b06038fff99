#!/bin/sh
# Installs Debian's headless-capable Chromium for the HTML report test
# (tests/compare_html_chromium.rs). Idempotent: does nothing when chromium is
# already on PATH. Needs root (or sudo) and access to the Debian mirrors.
set -eu

if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || echo unknown version)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-dejavu-core: a sans-serif font so chart labels render in screenshots.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "installed: $(chromium --version)"
