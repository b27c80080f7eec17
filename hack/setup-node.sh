#!/usr/bin/env bash
# Prepares what a real single-node cluster needs beside the control plane: Debian's containerd,
# runc, CNI plugins and netfilter tools (installed when missing; needs root); kubelet,
# kube-scheduler and kube-proxy built from source like the control plane; and the NetworkPolicy
# enforcer kube-network-policies, built with kube-network-policies-nfqueue.patch (see there),
# and CoreDNS (the cluster's resolver and opdomain's in-domain one), all into a cache outside
# the work tree. Prints the directory holding the built commands.
# Idempotent: with everything present it only prints the directory.
#
#   OPDOMAIN_NODE_DIR  where the commands go
#                      (default ${XDG_CACHE_HOME:-$HOME/.cache}/opdomain/<k8s version>-node)
set -euo pipefail
# shellcheck source=lib/kubernetes.sh
source "$(dirname "$0")/lib/kubernetes.sh"
# shellcheck source=lib/debian.sh
source "$(dirname "$0")/lib/debian.sh"

NODE_DIR=${OPDOMAIN_NODE_DIR:-$OPDOMAIN_CACHE/${K8S_VERSION}-node}
BINARIES=(kubelet kube-scheduler kube-proxy)
KNP_VERSION=${KNP_VERSION:-v0.7.0}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
PACKAGES=(containerd runc containernetworking-plugins iptables nftables conntrack iproute2)

log() { echo "setup-node: $*" >&2; }

install_packages setup-node "${PACKAGES[@]}"

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

# kube-network-policies: the proxy lists no versions of it and the checksum database knows
# neither it nor the nftables library it pins, so it is fetched at an exact version with its
# own go.sum as the only check, and patched so that this kernel (no CONFIG_NFT_QUEUE) can run it.
if [[ "$(cat "$NODE_DIR/kube-network-policies.version" 2>/dev/null)" != "$KNP_VERSION+nfqueue" ]]; then
  started=$(date +%s)
  log "building kube-network-policies $KNP_VERSION (patched) into $NODE_DIR"
  patch_file="$(cd "$(dirname "$0")" && pwd)/kube-network-policies-nfqueue.patch"
  (
    set -euo pipefail
    export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 GONOSUMDB=sigs.k8s.io/kube-network-policies,github.com/google/nftables
    src=$(go mod download -json "sigs.k8s.io/kube-network-policies@$KNP_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [[ -d "$src" ]] || { log "could not download sigs.k8s.io/kube-network-policies@$KNP_VERSION"; exit 1; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cp -r "$src/." "$work"
    chmod -R u+w "$work"
    cd "$work"
    git apply -p1 "$patch_file"
    go build -trimpath -ldflags "-s -w" -o "$NODE_DIR/kube-network-policies" ./cmd >&2
  )
  echo "$KNP_VERSION+nfqueue" >"$NODE_DIR/kube-network-policies.version"
  log "built kube-network-policies in $(( $(date +%s) - started ))s"
fi

if [[ "$(cat "$NODE_DIR/coredns.version" 2>/dev/null)" != "$COREDNS_VERSION" ]]; then
  started=$(date +%s)
  log "building CoreDNS $COREDNS_VERSION into $NODE_DIR"
  GOBIN="$NODE_DIR" GOFLAGS=-trimpath CGO_ENABLED=0 go install -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" >&2
  echo "$COREDNS_VERSION" >"$NODE_DIR/coredns.version"
  log "built CoreDNS in $(( $(date +%s) - started ))s"
fi
echo "$NODE_DIR"
