#!/usr/bin/env bash
# Usage: scripts/ensure_venv.sh PYTHON VENV
# Leaves VENV a working virtual environment of PYTHON (3.11 or newer), with a current pip.
# A VENV left behind by a failed set-up (no working python or pip, or made by another Python,
# e.g. one the project refused) is removed and made again, so a failed `make` is retried by
# running it again, with PYTHON=... when the first Python was the problem.
set -euo pipefail
python=${1:?usage: ensure_venv.sh PYTHON VENV}
venv=${2:?usage: ensure_venv.sh PYTHON VENV}
version='import sys; print("%d.%d" % sys.version_info[:2])'

if ! want=$("$python" -c "$version" 2>/dev/null); then
    echo "ensure_venv: cannot run Python '$python'; set PYTHON=/path/to/python3.11 (or newer)" >&2
    exit 2
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "ensure_venv: Python $want at '$python' is too old: this project needs 3.11 or newer;" \
        "run again with PYTHON=python3.11 (or 3.12, 3.13)" >&2
    exit 2
fi
if [ -x "$venv/bin/python" ] \
    && [ "$("$venv/bin/python" -c "$version" 2>/dev/null)" = "$want" ] \
    && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    exit 0
fi
if [ -e "$venv" ]; then
    echo "ensure_venv: $venv is not a working Python $want environment; making it again" >&2
    rm -rf "$venv"
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
