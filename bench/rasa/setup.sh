#!/usr/bin/env bash
# Create bench/rasa/.venv: a Python 3.10 environment with Rasa 3.6 (Rasa 3.6 does not run
# on the project's Python 3.11). Idempotent: a complete environment is left as it is.
#
#   bash bench/rasa/setup.sh            # PYTHON310=/path/to/python3.10 to choose another
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
stamp="$venv/.installed"

find_python310() {
    if [[ -n "${PYTHON310:-}" ]]; then echo "$PYTHON310"; return; fi
    local root="${PYENV_ROOT:-$HOME/.pyenv}" candidate
    # a pyenv shim named python3.10 exists even when that version is not selected: try it
    for candidate in $(ls -d "$root"/versions/3.10.*/bin/python 2>/dev/null | sort -rV) \
        "$(command -v python3.10 || true)"; do
        if [[ -n "$candidate" ]] && "$candidate" --version >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
    echo "setup.sh: no Python 3.10 found (set PYTHON310)" >&2
    exit 2
}

if [[ -f "$stamp" && "$stamp" -nt "$here/requirements.txt" && "$stamp" -nt "$here/constraints.txt" ]]; then
    echo "bench/rasa/.venv is ready ($("$venv/bin/rasa" --version 2>/dev/null | head -n 1))"
    exit 0
fi

python="$(find_python310)"
echo "creating $venv with $("$python" --version)"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade "pip==24.0"
# Rasa's dependency tree is large (TensorFlow 2.12): a few minutes on a fresh machine.
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt" -c "$here/constraints.txt"
"$venv/bin/rasa" --version
touch "$stamp"
