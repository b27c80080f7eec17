#!/usr/bin/env bash
# Builds versitygw, an S3-compatible object store that keeps objects as files and enforces
# object lock, from the Go module proxy into a cache outside the work tree, and prints the
# binary's path: the tests keep operation records in a real bucket under COMPLIANCE retention.
# Idempotent: with the binary present it only prints its path.
#
#   OPDOMAIN_OBJECTSTORE_DIR  where the binary goes
#                             (default ${XDG_CACHE_HOME:-$HOME/.cache}/opdomain/versitygw-<version>)
set -euo pipefail

VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
BIN_DIR=${OPDOMAIN_OBJECTSTORE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/opdomain/versitygw-${VERSITYGW_VERSION}}

if [[ ! -x "$BIN_DIR/versitygw" ]]; then
  started=$(date +%s)
  echo "setup-objectstore: building versitygw $VERSITYGW_VERSION into $BIN_DIR" >&2
  mkdir -p "$BIN_DIR"
  GOBIN="$BIN_DIR" GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 \
    go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" >&2
  echo "setup-objectstore: built in $(( $(date +%s) - started ))s" >&2
fi
echo "$BIN_DIR/versitygw"
