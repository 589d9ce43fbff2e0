#!/usr/bin/env bash
# Sets everything up (including Chromium for the browser test and the default reranker), then runs the whole test
# suite. The tests do not use the default reranker (they train their own small models), so on a new machine it is
# built beside them, at a lower priority, and this waits for it at the end: its log is .venv/default-reranker.log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser --no-reranker
log=.venv/default-reranker.log
nice -n 10 .venv/bin/python -m explorer build-default-reranker --if-needed >"$log" 2>&1 &
build=$!
set +e
# two workers (EXPLORER_TEST_WORKERS=0 runs in this process alone); tests/conftest.py hands them whole files
workers="${EXPLORER_TEST_WORKERS:-2}"
.venv/bin/python -m pytest -n "$workers" "$@" 2>&1 | tee .venv/pytest.log
status=${PIPESTATUS[0]}
echo "==> waiting for the default reranker's build (log: $log)"
wait "$build"
built=$?
set -e
tail -n 3 "$log"
if [ "$built" -ne 0 ]; then
  echo "the default reranker's build failed (exit $built); its log: $log" >&2
  [ "$status" -eq 0 ] && status=1
fi
tail -n 1 .venv/pytest.log  # pytest's closing line stays the last line of the run
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
