#!/usr/bin/env bash
# Quick start: install SIE into .venv (once) and run `sie demo`, the whole pipeline on the bundled
# sample corpus with embedded defaults (SQLite, in-process queue, built-in search).
# Usage: ./scripts/demo.sh [--serve] [other `sie demo` options]; PYTHON=/path/to/python3.11 picks the interpreter.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3; do
        [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))'; then
            echo "$candidate"
            return
        fi
    done
    echo "demo.sh: SIE needs Python 3.11 or 3.12; set PYTHON=/path/to/python3.11" >&2
    exit 1
}

if [[ ! -x .venv/bin/python ]]; then
    python="$(find_python)"
    echo "creating .venv with $("$python" --version)"
    "$python" -m venv .venv || {
        echo "demo.sh: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    }
fi

# Install again only when pyproject.toml is newer than the last install, so reruns start at once.
stamp=.venv/.sie-demo-installed
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    echo "installing SIE with its API and worker extras into .venv (quietly; takes a few minutes the first time)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[api,worker]'
    touch "$stamp"
fi

exec .venv/bin/sie demo "$@"
