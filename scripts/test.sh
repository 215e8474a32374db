#!/usr/bin/env bash
# Set up everything and run the whole test suite: bash scripts/test.sh
# Installs the Python requirements, Debian's chromium for the browser test
# (Playwright's own browser download is never used), then runs ruff and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -m ruff check .
python3 -m pytest "$@"
