#!/usr/bin/env bash
# Set up everything and open the app: bash scripts/app.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt
exec python3 -m streamlit run app.py "$@"
