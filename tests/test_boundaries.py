"""The engine never imports streamlit."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_engine_imports_no_streamlit():
    modules = sorted(p.stem for p in (ROOT / "explorer").glob("*.py") if p.stem != "__main__")
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module('explorer.' + name if name != '__init__' else 'explorer')\n"
        "assert 'streamlit' not in sys.modules, 'explorer imported streamlit'\n"
        "print(len(sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(modules) >= 10
