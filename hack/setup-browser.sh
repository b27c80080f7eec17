#!/usr/bin/env bash
# Installs Debian's Chromium and a Chinese font when missing (needs root) and prints Chromium's
# path: the integration tests load the disclosure page in it, headless, and keep a screenshot,
# whose Chinese headings need a font that has them.
# Idempotent: with both present it only prints the path.
set -euo pipefail

# shellcheck source=lib/debian.sh
source "$(dirname "$0")/lib/debian.sh"

install_packages setup-browser chromium fonts-wqy-zenhei
command -v chromium
