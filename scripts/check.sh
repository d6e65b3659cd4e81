#!/usr/bin/env bash
# Static checks that keep the architecture and the code style: layer contracts, lint, format, types.
# Run from the repository root after the README's install step; .ci/run runs it before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== import-linter (layer contracts in pyproject.toml)"
"$BIN/lint-imports"
echo "== ruff check"
"$BIN/ruff" check .
echo "== ruff format --check"
"$BIN/ruff" format --check .
echo "== mypy"
"$BIN/mypy"
