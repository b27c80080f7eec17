# Sourced by hack/setup-*.sh: installs Debian packages when missing.

# install_packages LOG_PREFIX PACKAGE...: installs the packages not installed yet (needs root;
# without it, names them and fails).
install_packages() {
  local prefix=$1 p
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  (( ${#missing[@]} > 0 )) || return 0
  if [[ $(id -u) != 0 ]]; then
    echo "$prefix: missing Debian packages ${missing[*]}; install them as root" >&2
    return 1
  fi
  echo "$prefix: installing ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
