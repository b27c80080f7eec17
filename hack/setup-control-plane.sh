#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl and etcd from source through the Go
# module proxy, into a cache outside the work tree, and prints the directory holding them.
# Idempotent: with the binaries present it only prints the directory.
#
#   OPDOMAIN_CONTROL_PLANE_DIR  where the binaries go
#                               (default ${XDG_CACHE_HOME:-$HOME/.cache}/opdomain/<k8s version>)
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.0}
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
BIN_DIR=${OPDOMAIN_CONTROL_PLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/opdomain/${K8S_VERSION}}
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

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

# k8s.io/kubernetes requires its staging modules at v0.0.0 and resolves them with replace
# directives that do not apply to a dependent module; pin each to the published release.
kube_gomod=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
[[ -f "$kube_gomod" ]] || { log "could not download k8s.io/kubernetes@${K8S_VERSION}"; exit 1; }
mapfile -t staging < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$kube_gomod" |
  grep -v -e '^k8s.io/sample-' | sort -u)

go mod init opdomain.io/control-plane-build >/dev/null 2>&1
{
  echo
  for m in "${staging[@]}"; do echo "replace $m => $m $STAGING_VERSION"; done
} >>go.mod
go get "k8s.io/kubernetes@${K8S_VERSION}" "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2

major=${K8S_VERSION#v}; major=${major%%.*}
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

mkdir -p "$BIN_DIR.tmp"
go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR.tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl \
  go.etcd.io/etcd/server/v3 >&2
# go names a binary after its package path without the major-version suffix: etcd/server/v3 -> server.
mv "$BIN_DIR.tmp/server" "$BIN_DIR.tmp/etcd"
rm -rf "$BIN_DIR"
mv "$BIN_DIR.tmp" "$BIN_DIR"

log "built ${BINARIES[*]} in $(( $(date +%s) - started ))s"
echo "$BIN_DIR"
