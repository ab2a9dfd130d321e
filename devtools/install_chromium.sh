#!/usr/bin/env bash
# Installs Debian's chromium for the portal's browser tests when it is missing (CI runs as root on a clean
# machine). Playwright drives this binary; nothing downloads a browser build of its own.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install_chromium.sh: /usr/bin/chromium is missing; run: sudo apt-get install -y chromium" >&2
    exit 1
fi
echo "Installing Debian's chromium (portal browser tests) ..."
log="$(mktemp)"
if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
rm -f "$log"
