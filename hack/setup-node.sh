#!/usr/bin/env bash
# Prepares what a real single-node cluster needs beside the control plane: Debian's containerd,
# runc, CNI plugins and netfilter tools (installed when missing; needs root), and kubelet,
# kube-scheduler and kube-proxy built from source like the control plane, into a cache outside
# the work tree. Prints the directory holding the built commands. Idempotent: with everything
# present it only prints the directory.
#
#   OPDOMAIN_NODE_DIR  where the commands go
#                      (default ${XDG_CACHE_HOME:-$HOME/.cache}/opdomain/<k8s version>-node)
set -euo pipefail
# shellcheck source=lib/kubernetes.sh
source "$(dirname "$0")/lib/kubernetes.sh"

NODE_DIR=${OPDOMAIN_NODE_DIR:-$OPDOMAIN_CACHE/${K8S_VERSION}-node}
BINARIES=(kubelet kube-scheduler kube-proxy)
PACKAGES=(containerd runc containernetworking-plugins iptables nftables conntrack iproute2)

log() { echo "setup-node: $*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} > 0 )); then
  [[ $(id -u) == 0 ]] || { log "missing Debian packages ${missing[*]}; install them as root"; exit 1; }
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

have_all() {
  for b in "${BINARIES[@]}"; do [[ -x "$NODE_DIR/$b" ]] || return 1; done
  [[ "$("$NODE_DIR/kubelet" --version 2>/dev/null)" == "Kubernetes $K8S_VERSION" ]]
}
if ! have_all; then
  started=$(date +%s)
  log "building ${BINARIES[*]} ($K8S_VERSION) into $NODE_DIR"
  build_kubernetes "$NODE_DIR" \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kube-proxy
  log "built ${BINARIES[*]} in $(( $(date +%s) - started ))s"
fi
echo "$NODE_DIR"
