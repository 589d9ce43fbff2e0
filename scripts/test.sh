#!/usr/bin/env bash
# Sets everything up (including Chromium for the browser test), then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
set +e
# two workers (EXPLORER_TEST_WORKERS=0 runs in this process alone); tests/conftest.py hands them whole files
workers="${EXPLORER_TEST_WORKERS:-2}"
.venv/bin/python -m pytest -n "$workers" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
