# Sourced by hack/setup-*.sh: builds Kubernetes commands (and etcd) at pinned versions from the Go
# module proxy, with the version stamped in as a release build would carry it.

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.0}
OPDOMAIN_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/opdomain

# build_kubernetes OUT_DIR PACKAGE...: builds each package's command into OUT_DIR, replacing it
# whole only once every command built. A package of go.etcd.io/etcd pulls etcd in at
# ETCD_VERSION.
build_kubernetes() {
  local out=$1
  shift
  (
    set -euo pipefail
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cd "$work"
    export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and resolves them with replace
    # directives that do not apply to a dependent module; pin each to the published release.
    local staging_version="v0.${K8S_VERSION#v1.}" kube_gomod
    kube_gomod=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
    [[ -f "$kube_gomod" ]] || { echo "could not download k8s.io/kubernetes@${K8S_VERSION}" >&2; exit 1; }
    mapfile -t staging < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$kube_gomod" |
      grep -v -e '^k8s.io/sample-' | sort -u)
    go mod init opdomain.io/kubernetes-build >/dev/null 2>&1
    {
      echo
      for m in "${staging[@]}"; do echo "replace $m => $m $staging_version"; done
    } >>go.mod
    local modules=("k8s.io/kubernetes@${K8S_VERSION}")
    if printf '%s\n' "$@" | grep -q '^go.etcd.io/etcd/'; then
      modules+=("go.etcd.io/etcd/server/v3@${ETCD_VERSION}")
    fi
    go get "${modules[@]}" >&2

    local major=${K8S_VERSION#v} minor=${K8S_VERSION#v*.} ldflags="-s -w"
    major=${major%%.*}
    minor=${minor%%.*}
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
      ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    mkdir -p "$out.tmp"
    go build -trimpath -ldflags "$ldflags" -o "$out.tmp/" "$@" >&2
    # go names a binary after its package path without the major-version suffix: etcd/server/v3 -> server.
    if [[ -e "$out.tmp/server" ]]; then mv "$out.tmp/server" "$out.tmp/etcd"; fi
    rm -rf "$out"
    mv "$out.tmp" "$out"
  )
}
