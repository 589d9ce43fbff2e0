#!/usr/bin/env bash
# Sets everything up, then starts the explorer on the sample data at http://localhost:${PORT:-8501}
# It listens on 127.0.0.1 only; ADDRESS=0.0.0.0 (or another address) opens it to the network: see the README.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m ui.serve run app.py --server.port "${PORT:-8501}" --server.address "${ADDRESS:-127.0.0.1}" \
  --server.headless true \
  --browser.gatherUsageStats false "$@"
