"""Shared fixtures. Tests run offline and write caches under a temporary folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Set before any explorer or streamlit module reads the environment (app tests read it through Settings).
_CACHE = tempfile.mkdtemp(prefix="explorer-test-cache-")
os.environ.setdefault("EXPLORER_CACHE_DIR", _CACHE)
# Trained models go to a temporary folder too, so no test depends on what the set-up built.
os.environ.setdefault("EXPLORER_MODELS_DIR", tempfile.mkdtemp(prefix="explorer-test-models-"))
# The hub is out of reach here; say so, so that no test waits on a connection attempt.
os.environ.setdefault("EXPLORER_HUB", "offline")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield"


@pytest.fixture(scope="session")
def settings():
    from explorer.settings import Settings

    return Settings.from_env()


@pytest.fixture(scope="session")
def cpu():
    from explorer.device import DeviceChoice

    return DeviceChoice("cpu", "fp32", "tests run in full precision on the CPU")


@pytest.fixture(scope="session")
def sample():
    from explorer.loading import load_beir

    return load_beir(SAMPLE)


@pytest.fixture(scope="session")
def bi_encoder(cpu, settings):
    from explorer.models import load_bi_encoder
    from explorer.settings import DEFAULT_BI_ENCODER

    return load_bi_encoder(DEFAULT_BI_ENCODER, cpu, settings)


@pytest.fixture(scope="session")
def reranker(cpu, settings):
    from explorer.models import load_reranker
    from explorer.settings import DEFAULT_RERANKER

    return load_reranker(DEFAULT_RERANKER, cpu, settings)


@pytest.fixture(scope="session")
def cranfield_path() -> Path:
    if not (CRANFIELD / "corpus.jsonl").is_file():
        pytest.skip("../shared/data/cranfield is not present")
    return CRANFIELD
