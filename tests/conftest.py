"""Shared fixtures. Tests run offline and write caches under a temporary folder."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest


def _temporary_folder(prefix: str) -> str:
    """A new temporary folder, removed when this process ends: a run leaves nothing behind (each run's caches hold
    about half a gigabyte of compiled graphs and models)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


# Set before any explorer or streamlit module reads the environment (app tests read it through Settings). Under
# pytest-xdist the workers inherit the controller's cache folder (the controller outlives them and removes it).
if "EXPLORER_CACHE_DIR" not in os.environ:
    os.environ["EXPLORER_CACHE_DIR"] = _temporary_folder("explorer-test-cache-")
# What the set-up converted and measured for this machine is copied in (the packaged bi-encoder's OpenVINO graph, and
# the engines' measured choices, so the session neither converts nor measures them again; the set-up's trained
# reranker is not the one the tests load, so its graphs are not used). A test about making a graph uses a compiled
# folder of its own. Copied, not linked: a test that damages a graph must not damage the user's.
if "PYTEST_XDIST_WORKER" not in os.environ:
    _made = Path.home() / ".cache" / "relevance-explorer" / "compiled"
    _seeded = Path(os.environ["EXPLORER_CACHE_DIR"]) / "compiled"
    if _made.is_dir() and not _seeded.exists():
        shutil.copytree(_made, _seeded, ignore=shutil.ignore_patterns("*.lock", "*.partial.*"))
# Trained models go to a temporary folder too, so no test depends on what the set-up built.
os.environ["EXPLORER_MODELS_DIR"] = _temporary_folder("explorer-test-models-")
# Pages read typed paths only under the data folders: the tests' own data, temporary folders and ../shared/data.
os.environ.setdefault("EXPLORER_DATA_DIRS", os.pathsep.join([
    str(Path(__file__).resolve().parent / "data"), tempfile.gettempdir(),
    str(Path(__file__).resolve().parent.parent.parent / "shared" / "data")]))
# The hub is out of reach here; say so, so that no test waits on a connection attempt.
os.environ.setdefault("EXPLORER_HUB", "offline")
# Under pytest-xdist (scripts/test.sh runs two workers), each worker's models get an equal share of the cores, set
# before torch is imported: two workers each running two threads on two cores would slow both.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield"


def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (scripts/test.sh runs two workers): each test file runs whole on one worker (its module
    fixtures are built once), and every real-browser file (tests/test_browser*.py) on the same worker, so that no
    more app servers and browsers run at once than in a run without workers. (pytest-xdist's own ``loadgroup``
    does not group under pytest 9, whose node ids it can no longer rewrite.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByFileBrowsersTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return "browser tests" if Path(path).name.startswith("test_browser") else path

    return ByFileBrowsersTogether(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After the last test of each file (its module fixtures gone), the freed memory goes back to the system: glibc
    keeps freed model activations in its heap otherwise, and two workers' heaps add up."""
    yield
    if nextitem is None or nextitem.path != item.path:
        import gc

        from explorer.serving.memory import heap_trimmer

        gc.collect()
        heap_trimmer()()


@pytest.fixture(scope="session")
def settings():
    from explorer.settings import Settings

    return Settings.from_env()


def training_device():
    """Where tests train: bf16 on CPUs with bf16 units (AMX / AVX-512 BF16), else fp32 (bf16 is emulated, slowly,
    on other CPUs)."""
    from explorer.inference.device import DeviceChoice, detect_accelerators

    precision = "bf16" if detect_accelerators().cpu_bf16 else "fp32"
    return DeviceChoice("cpu", precision, f"tests train in {precision} on this CPU")


@pytest.fixture(scope="session")
def cpu():
    from explorer.inference.device import DeviceChoice

    return DeviceChoice("cpu", "fp32", "tests run in full precision on the CPU")


@pytest.fixture(scope="session")
def sample():
    from explorer.loading import load_beir

    return load_beir(SAMPLE)


@pytest.fixture(scope="session")
def bi_encoder(cpu, settings):
    from explorer.models.resolution import load_bi_encoder
    from explorer.settings import DEFAULT_BI_ENCODER

    return load_bi_encoder(DEFAULT_BI_ENCODER, cpu, settings)


@pytest.fixture(scope="session")
def reranker(cpu, settings):
    from explorer.models.resolution import load_reranker
    from explorer.settings import DEFAULT_RERANKER

    return load_reranker(DEFAULT_RERANKER, cpu, settings)


@pytest.fixture(scope="session")
def cranfield_path() -> Path:
    if not (CRANFIELD / "corpus.jsonl").is_file():
        pytest.skip("../shared/data/cranfield is not present")
    return CRANFIELD


@pytest.fixture(scope="session")
def embedding_cache(settings):
    """The corpus embeddings of the whole session, in the folder the pages use: the sample corpus is embedded once."""
    from explorer.retrieval.embedding_cache import EmbeddingCache

    return EmbeddingCache(settings.cache_dir / "embeddings")


@pytest.fixture(scope="session")
def short_run(sample, bi_encoder, embedding_cache, tmp_path_factory):
    """A real, short training run (18 steps on six labelled groups of the sample data) of a two-layer student, the
    size the guide recommends for training on two CPU cores."""
    from explorer.pipeline import RetrievalPipeline
    from explorer.training.data import labelled_groups
    from explorer.training.trainer import TrainSettings, train

    base = RetrievalPipeline.build(sample, bi_encoder, None, embedding_cache)
    groups = labelled_groups(sample, "train", base)[:6]
    settings = TrainSettings(steps=18, learning_rate=1e-4, queries_per_step=2, max_length=128, log_every=1,
                             student_layers=2)
    return train(groups, settings, training_device(), tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="session")
def trained_folder(short_run, tmp_path_factory):
    """The short run saved with a card, as the Train page or the CLI would save it."""
    from explorer.models.trained import save_reranker

    card = {"trained_on": "six sample groups", "steps": 18, "recommended_blend": 0.5,
            "held_out_ndcg@10": {"first stage": 0.7, "reranked": 0.6, "blend 0.5": 0.75}, "held_out": "a test"}
    return save_reranker(short_run.model, tmp_path_factory.mktemp("trained") / "tiny-reranker", card)


@pytest.fixture(scope="session")
def sample_pipeline(sample, bi_encoder, reranker, embedding_cache):
    """The sample corpus indexed with the packaged bi-encoder, with the (offline) default reranker."""
    from explorer.pipeline import RetrievalPipeline
    from explorer.rerank.score_cache import ScoreCache

    return RetrievalPipeline.build(sample, bi_encoder, reranker, embedding_cache, score_cache=ScoreCache())


@pytest.fixture(scope="session")
def small_split(sample):
    """The sample data with a split "few" of the first eight test queries: evaluations that run in seconds."""
    from explorer.records import Dataset

    few = dict(list(sample.qrels_by_split["test"].items())[:8])
    return Dataset(sample.name, sample.documents, sample.queries, {**sample.qrels_by_split, "few": few})


@pytest.fixture
def browser(chromium):
    """The browser for one test; every page the test opened is closed after it (an open page keeps its server
    session alive and busy while the rest of the suite runs)."""
    yield chromium
    for context in list(chromium.contexts):
        context.close()


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium, driven by Playwright (its own browser download does not work here)."""
    import shutil

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is missing: run `bash scripts/setup.sh --browser` (it installs Debian's chromium).")
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM_FLAGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app, served once for every browser test of the session."""
    from tests.browser_support import served_app

    with served_app(tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url
