#!/usr/bin/env bash
# Set up everything and open the app: bash scripts/app.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt
# Compile the kernels into numba's disk cache in a process of its own (about a minute once per install,
# a second or two after), so no visitor's first run of an optimizer stalls the server while it compiles.
nice -n 10 python3 -m optimizers.warm &
exec python3 -m streamlit run app.py "$@"
