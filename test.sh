#!/usr/bin/env bash
# README's second command: install (no-op once done) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install.sh
exec .venv/bin/python -m pytest -q "$@"
