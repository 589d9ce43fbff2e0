#!/usr/bin/env bash
# Sets up everything the explorer needs in ./.venv. Safe to run again: it skips what is already done.
#   bash scripts/setup.sh            Python packages
#   bash scripts/setup.sh --browser  also Debian's Chromium, for the real-browser test
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($python_bin --version)"
  "$python_bin" -m venv .venv
fi

stamp=.venv/.requirements.sha256
wanted="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "==> installing Python packages (first time: a few minutes)"
  # torch first and pinned, so that nothing pulls a different (multi-GB CUDA) build in as a dependency.
  # (grep drops pip's notes about this machine's local package folders; errors still show)
  .venv/bin/pip install --disable-pip-version-check -q "$(grep -E '^torch==' requirements.txt)" 2>&1 \
    | { grep -v "^WARNING: Location" || true; }
  .venv/bin/pip install --disable-pip-version-check -q -r requirements.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
  echo "$wanted" > "$stamp"
fi

# openvino pulls in openvino-telemetry, with which `import openvino` sends usage events: remove it.
if .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('openvino_telemetry') is None)"; then
  .venv/bin/pip uninstall -y -q openvino-telemetry
fi

# The default offline reranker: where no pretrained cross-encoder can be downloaded, train one here, once
# (a few minutes on 2 CPU cores; later runs find it and skip this).
.venv/bin/python -m explorer build-default-reranker --if-needed

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Chromium (Debian package) for the browser test"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium
fi
echo "==> set-up done"
