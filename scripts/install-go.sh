#!/bin/sh
# Installs Go from Debian's packages (golang-go) unless a `go` command is
# already there; the Go bindings (bindings/go) need Go >= 1.19 with cgo.
set -eu
if command -v go >/dev/null 2>&1; then
    go version
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends golang-go gcc libc6-dev >/dev/null
go version
