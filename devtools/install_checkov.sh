#!/usr/bin/env bash
# Installs a pinned checkov into .tools/checkov-venv, apart from the project venv
# (checkov's dependency tree is large and would clash with the gateway's pins).
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail

CHECKOV_VERSION="3.3.30"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.tools/checkov-venv"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python="python3"

installed_version() {
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null || true
}

if [ -x "$venv/bin/checkov" ] && [ "$(installed_version)" = "$CHECKOV_VERSION" ]; then
    # A venv made in another folder (a copied or moved checkout) has scripts that start another folder's Python.
    if [ "$(head -n 1 "$venv/bin/checkov")" = "#!$venv/bin/python" ]; then
        exit 0
    fi
    echo "install_checkov.sh: .tools/checkov-venv was made in another folder; making it again"
    rm -rf "$venv"
fi

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
echo "Installing checkov $CHECKOV_VERSION into .tools/checkov-venv (Bicep checks) ..."
log="$venv/pip-install.log"
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi

if [ "$(installed_version)" != "$CHECKOV_VERSION" ]; then
    echo "install_checkov.sh: checkov $CHECKOV_VERSION did not install into $venv" >&2
    exit 1
fi
