#!/usr/bin/env bash
# The test command: installs what the tests need, makes sure PostgreSQL and Redis run, runs pytest.
# Usage: ./scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

say() { printf '==> %s\n' "$*"; }

# System tools the tests drive for real (promtool/amtool/prometheus, fonts for OCR images, Chromium).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
  # The console's browser tests (tests/browser) drive Debian's headless Chromium with Playwright.
  command -v chromium >/dev/null || missing+=(chromium)
  # PostgreSQL behind a real PgBouncer in transaction pooling (tests/e2e/test_pgbouncer.py).
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The Debian packages start daemons we do not want: tests start their own on free ports.
    for service in prometheus prometheus-alertmanager prometheus-node-exporter; do
      pkill -f "/usr/bin/$service" 2>/dev/null || true
    done
  fi
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
say "installing SIE with its extras (api, worker, ocr, operator, dev, fr)"
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[api,worker,ocr,operator,dev,fr]' 2>&1 | grep -v -e '^WARNING: Location' -e '^$' || true

# PostgreSQL and Redis: start them if installed but down; stop with a clear message if absent.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  else
    echo "PostgreSQL is not installed or not reachable on 127.0.0.1:5432; install and start it" >&2
    exit 3
  fi
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    say "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null
    for _ in $(seq 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
  else
    echo "Redis is not installed or not reachable on 127.0.0.1:6379; install and start it" >&2
    exit 3
  fi
fi

say "running the tests"
exec .venv/bin/python -m pytest "$@"
