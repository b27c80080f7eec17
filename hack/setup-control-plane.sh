#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl and etcd from source through the Go
# module proxy, into a cache outside the work tree, and prints the directory holding them.
# Idempotent: with the binaries present it only prints the directory.
#
#   OPDOMAIN_CONTROL_PLANE_DIR  where the binaries go
#                               (default ${XDG_CACHE_HOME:-$HOME/.cache}/opdomain/<k8s version>)
set -euo pipefail
# shellcheck source=lib/kubernetes.sh
source "$(dirname "$0")/lib/kubernetes.sh"

BIN_DIR=${OPDOMAIN_CONTROL_PLANE_DIR:-$OPDOMAIN_CACHE/${K8S_VERSION}}
BINARIES=(kube-apiserver kube-controller-manager kubectl etcd)

have_all() {
  for b in "${BINARIES[@]}"; do [[ -x "$BIN_DIR/$b" ]] || return 1; done
  [[ "$("$BIN_DIR/kube-apiserver" --version 2>/dev/null)" == "Kubernetes $K8S_VERSION" ]]
}

if have_all; then
  echo "$BIN_DIR"
  exit 0
fi

log() { echo "setup-control-plane: $*" >&2; }
started=$(date +%s)
log "building kube-apiserver, kube-controller-manager, kubectl ($K8S_VERSION) and etcd ($ETCD_VERSION) into $BIN_DIR"
build_kubernetes "$BIN_DIR" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl \
  go.etcd.io/etcd/server/v3
log "built ${BINARIES[*]} in $(( $(date +%s) - started ))s"
echo "$BIN_DIR"
