#!/usr/bin/env bash
# Installs Debian's Chromium and a Chinese font when missing (needs root) and prints Chromium's
# path: the integration tests load the disclosure page in it, headless, and keep a screenshot,
# whose Chinese headings need a font that has them.
# Idempotent: with both present it only prints the path.
set -euo pipefail

log() { echo "setup-browser: $*" >&2; }

PACKAGES=(chromium fonts-wqy-zenhei)
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
command -v chromium
