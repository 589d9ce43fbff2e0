"""Peers in the rerank benchmark: other ways to run the same reranker, timed in one run on the same pairs.

- ``naive torch fp32``: ``CrossEncoder.predict`` (batch 32, fp32), whose scores are the reference the others are
  compared with, and whose median the others' speed-ups are taken over;
- sentence-transformers' own ONNX (fp32, and int8 by dynamic quantisation) and OpenVINO (fp32, and int8 by static
  quantisation) backends: the same model saved to a folder and loaded with ``CrossEncoder(folder, backend=...)``;
  they need Optimum (``optimum-onnx`` / ``optimum-intel``), and where it cannot run here the peer's entry says why;
- the explorer's engine, as every loaded reranker gets it (``explorer.models.resolution.with_engine``).

The model is the packaged MiniLM-L6 cross-encoder. Exports are kept under ``<cache>/peers/<model fingerprint>`` and
read back by later runs; only inference is timed. Runs alternate (each query, every peer in turn), so load from
other processes falls on all of them alike. Heavy libraries are imported inside the functions that use them.
"""

from __future__ import annotations

import importlib
import json
import logging
import platform
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Collection, Literal, Mapping, Sequence

import numpy as np

from explorer.bench.corpus import RerankCase
from explorer.bench.measure import Say
from explorer.bench.report import PeerFigures
from explorer.errors import ConfigError
from explorer.inference.device import DeviceChoice
from explorer.settings import Settings

logger = logging.getLogger(__name__)

NAIVE = "naive torch fp32"
ENGINE_PREFIX = "explorer engine"
TOP_K = 10
# ONNX Runtime's dynamic int8 targets as sentence-transformers names them, best first
ONNX_INT8_TARGETS = (("avx512_vnni", "avx512_vnni"), ("avx512", "avx512f"), ("avx2", "avx2"))
CALIBRATION_TEXTS = 300  # OpenVINO's static int8: texts to calibrate on (Optimum's default number of samples)

# scores for one query's candidates, in the order of its texts
Scorer = Callable[[RerankCase], np.ndarray]
PeerResult = PeerFigures | str  # its figures, or why it could not run here


@dataclass(frozen=True)
class BackendLimit:
    """What pip found when asked to install a backend's Optimum package beside this project's pinned stack: the
    newest release of it, and the transformers versions it accepts (below ``transformers_below``)."""

    package: str
    newest: str
    transformers_below: str


@dataclass(frozen=True)
class StPeer:
    """One of sentence-transformers' backends as a peer: its name in the report, the backend, how it is quantised,
    and the modules it imports."""

    name: str
    backend: Literal["onnx", "openvino"]
    int8: Literal["", "dynamic", "static"]
    needs: tuple[str, ...]


ST_PEERS = (  # Optimum first in each: the module most likely missing, and the cheapest to look for
    StPeer("sentence-transformers onnx fp32", "onnx", "", ("optimum.onnxruntime", "onnxruntime")),
    StPeer("sentence-transformers onnx int8 (dynamic)", "onnx", "dynamic",
           ("optimum.onnxruntime", "onnxruntime", "onnx")),
    StPeer("sentence-transformers openvino fp32", "openvino", "", ("optimum.intel.openvino", "openvino")),
    StPeer("sentence-transformers openvino int8 (static)", "openvino", "static",
           ("optimum.intel.openvino", "openvino", "nncf", "datasets")),
)
INSTALL = {"onnx": "pip install 'sentence-transformers[onnx]' (optimum-onnx[onnxruntime])",
           "openvino": "pip install 'sentence-transformers[openvino]' (optimum-intel[openvino])"}
# Checked with `pip install --dry-run` against requirements.txt (transformers 5.23.0): no release of either accepts
# transformers 5.23, and the older releases pip falls back to (optimum 1.17.1, optimum-intel 1.15.0) install but do
# not import (transformers 5 no longer has is_tf_available; openvino 2026 no longer has openvino.runtime).
LIMITS = {"onnx": BackendLimit("optimum-onnx", "0.1.0", "4.58"),
          "openvino": BackendLimit("optimum-intel", "2.2.0", "5.6")}


def agreement(reference: np.ndarray, scores: np.ndarray, k: int = TOP_K) -> tuple[float, float]:
    """Spearman's rank correlation of ``scores`` with ``reference``, and the share of the reference's top ``k`` that
    are also in the top ``k`` of ``scores`` (of all candidates where there are fewer than ``k``). A constant list
    ranks nothing, so its Spearman is 0. Ties in a top ``k`` are broken by position, the same way for both lists."""
    from scipy.stats import spearmanr

    reference, scores = np.asarray(reference, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if reference.shape != scores.shape or reference.ndim != 1 or not len(reference):
        raise ConfigError(f"Agreement needs two score lists of one and the same length; got {reference.shape} "
                          f"and {scores.shape}: score the same candidates with both.")
    if np.ptp(reference) == 0 or np.ptp(scores) == 0:
        rho = 0.0
    else:
        rho = float(spearmanr(reference, scores)[0])
    top = min(k, len(reference))
    best = set(np.argsort(-reference, kind="stable")[:top]) & set(np.argsort(-scores, kind="stable")[:top])
    return rho, len(best) / top


def time_peers(cases: Sequence[RerankCase], reference: Sequence[np.ndarray], scorers: Mapping[str, Scorer], *,
               repeats: int, say: Say = lambda text: None) -> dict[str, PeerFigures]:
    """Times every scorer on every case ``repeats`` times, in turn (case by case, each scorer once), and compares the
    first repeat's scores with ``reference`` (one array per case). The speed-ups are over the scorer named ``NAIVE``,
    which must be among them."""
    if NAIVE not in scorers:
        raise ConfigError(f"The peers' speed-ups are taken over {NAIVE!r}; give a scorer of that name.")
    if len(reference) != len(cases) or not cases:
        raise ConfigError(f"Give one reference score list per case: {len(reference)} lists for {len(cases)} cases.")
    if repeats < 1:
        raise ConfigError("The peers need at least one repeat.")
    runs: dict[str, list[float]] = {name: [] for name in scorers}
    agreed: dict[str, list[tuple[float, float]]] = {name: [] for name in scorers}
    for repeat in range(repeats):
        for number, (case, expected) in enumerate(zip(cases, reference), start=1):
            for name, score in scorers.items():
                started = time.perf_counter()
                scores = np.asarray(score(case))
                runs[name].append(time.perf_counter() - started)
                if len(scores) != len(case.texts):
                    raise ConfigError(f"The peer {name!r} returned {len(scores)} scores for {len(case.texts)} "
                                      "candidates; it must score every candidate once.")
                if repeat == 0:
                    agreed[name].append(agreement(expected, scores))
            say(f"peers {repeat * len(cases) + number}/{repeats * len(cases)}: "
                + ", ".join(f"{name} {times[-1] * 1000:.0f} ms" for name, times in runs.items()))
    naive_ms = float(np.median(runs[NAIVE])) * 1000
    figures = {}
    for name, times in runs.items():
        median_ms = float(np.median(times)) * 1000
        speedup = naive_ms / median_ms if median_ms else float("inf")
        figures[name] = PeerFigures(median_ms=median_ms, speedup_vs_naive=speedup,
                                    spearman_min=min(s for s, _ in agreed[name]),
                                    top10_overlap=min(o for _, o in agreed[name]))
    return figures


def backend_unavailable(peer: StPeer, *, missing: Collection[str] = (),
                        transformers_version: str | None = None) -> str | None:
    """Why ``peer`` cannot run here, or None when every module it needs imports. ``missing`` names modules to take as
    not installed (so a test can ask for the reason without uninstalling anything); ``transformers_version`` is
    the installed one unless given. Where the installed transformers is newer than the newest Optimum release for
    the backend accepts, the reason says so: installing it would not help."""
    if peer.backend == "openvino" and not any(gone == "openvino" for gone in missing):
        from explorer.inference.openvino_backend import unavailable_reason

        # the engine's own rule (openvino-telemetry makes `import openvino` report usage), so both refuse alike
        refused = unavailable_reason()
        if refused is not None:
            return refused
    for module in peer.needs:
        problem = _import_problem(module, missing)
        if problem is None:
            continue
        reason = f"{problem}: {INSTALL[peer.backend]}"
        limit = LIMITS[peer.backend]
        installed = transformers_version or _installed_transformers()
        if module.startswith("optimum") and _version_at_least(installed, limit.transformers_below):
            reason += (f"; but it cannot be installed beside this stack: {limit.package} {limit.newest}, the newest "
                       f"release checked, needs transformers<{limit.transformers_below}, and transformers {installed} "
                       "is pinned")
        return reason
    return None


def onnx_int8_target(cpu_flags: Collection[str], machine: str) -> str:
    """The ONNX Runtime dynamic int8 configuration sentence-transformers names for this CPU: the best its
    instruction sets (``cpu_flags`` as in /proc/cpuinfo) have, or "arm64" on an ARM machine."""
    if machine.lower() in {"arm64", "aarch64"}:
        return "arm64"
    for target, flag in ONNX_INT8_TARGETS:
        if flag in cpu_flags:
            return target
    raise ConfigError(f"ONNX Runtime's dynamic int8 needs AVX2, AVX-512 or ARM64; this {machine} CPU has none of them.")


def bench_peers(settings: Settings, device: DeviceChoice, cases: Sequence[RerankCase], *, repeats: int,
                st_peers: Sequence[StPeer] = ST_PEERS, missing: Collection[str] = (),
                say: Say = lambda text: None) -> dict[str, PeerResult]:
    """Every peer's figures on ``cases`` (or why it could not run), in report order: naive, the sentence-transformers
    backends of ``st_peers``, the engine. ``missing`` as for ``backend_unavailable``."""
    import copy

    from explorer.models.info import ModelInfo
    from explorer.models.packaged import PACKAGED_RERANKER, build_packaged_reranker, packaged_reranker_info
    from explorer.models.resolution import with_engine
    from explorer.rerank.scoring import score_pairs

    if not cases:
        raise ConfigError("The peers need at least one query with its candidates; give them some.")
    fp32 = DeviceChoice("cpu", "fp32", "the naive baseline")
    model = build_packaged_reranker(fp32)
    naive = _predict_scorer(model)
    reference = [naive(case) for case in cases]  # also the naive peer's warm-up
    scorers: dict[str, Scorer] = {NAIVE: naive}
    results: dict[str, PeerResult] = {}
    folder = settings.cache_dir / "peers" / packaged_reranker_info(PACKAGED_RERANKER).fingerprint.replace(":", "-")
    for peer in st_peers:
        reason = backend_unavailable(peer, missing=missing)
        if reason is None:
            try:
                started = time.perf_counter()
                loaded = load_st_peer(peer, model, folder, cases)
                scorers[peer.name] = _predict_scorer(loaded)
                say(f"peer {peer.name}: ready in {time.perf_counter() - started:.1f} s")
                continue
            except Exception as exc:  # an exporter failing any way it can: the report names it, the others still run
                logger.warning("The peer %s could not be prepared", peer.name, exc_info=True)
                reason = f"could not be prepared here ({type(exc).__name__}: {_first_line(exc)})"
        results[peer.name] = reason
        say(f"peer {peer.name}: not run: {reason}")
    info = ModelInfo("packaged", "packaged MiniLM-L6 cross-encoder", "packaged", "", fingerprint="bench-reranker")
    # its own copy: on a GPU the engine may halve its model's weights, and the naive peer must stay in fp32
    engine = with_engine(copy.deepcopy(model), info, device, replace(settings, int8_in_background=False))
    scorers["engine"] = lambda case: score_pairs(engine, case.query, case.texts, cache=None).raw
    started = time.perf_counter()
    for score in scorers.values():
        score(RerankCase("", cases[0].query, cases[0].texts[:4]))  # first calls (the engine prepares) are not timed
    engine_name = f"{ENGINE_PREFIX} ({engine.engine.info().label})"
    say(f"peer {engine_name}: ready; every peer warmed up in {time.perf_counter() - started:.1f} s")
    figures = time_peers(cases, reference, scorers, repeats=repeats, say=say)
    ordered: dict[str, PeerResult] = {NAIVE: figures[NAIVE]}
    for peer in st_peers:
        ordered[peer.name] = figures[peer.name] if peer.name in figures else results[peer.name]
    ordered[engine_name] = figures["engine"]
    return ordered


def load_st_peer(peer: StPeer, model: Any, folder: Path, cases: Sequence[RerankCase]) -> Any:
    """The CrossEncoder that ``peer`` runs: ``model`` saved under ``folder`` and exported to the peer's backend there
    on first use (OpenVINO's static int8 calibrated on the texts of ``cases``); later calls read the export back."""
    from sentence_transformers.backend import (
        export_dynamic_quantized_onnx_model, export_static_quantized_openvino_model,
    )

    saved = saved_model(model, folder)
    fp32_file = "onnx/model.onnx" if peer.backend == "onnx" else "openvino/openvino_model.xml"
    if not _exported(saved, fp32_file):
        exported = _load_backend(saved, peer.backend, None)  # no export there yet: sentence-transformers makes it
        exported.save_pretrained(str(saved))
        _mark_exported(saved, fp32_file)
    if not peer.int8:
        return _load_backend(saved, peer.backend, fp32_file)
    if peer.int8 == "dynamic":
        target = onnx_int8_target(_cpu_flags(), platform.machine())
        file_name = f"onnx/model_qint8_{target}.onnx"
        if not _exported(saved, file_name):
            export_dynamic_quantized_onnx_model(_load_backend(saved, "onnx", fp32_file), target, str(saved),
                                                file_suffix=f"qint8_{target}")
            _mark_exported(saved, file_name)
        return _load_backend(saved, "onnx", file_name)
    file_name = "openvino/openvino_model_qint8_quantized.xml"
    if not _exported(saved, file_name):
        texts = _calibration_file(folder / "calibration", cases)
        # a local folder of JSON lines in place of the hub's data set, which sentence-transformers reads by default
        export_static_quantized_openvino_model(_load_backend(saved, "openvino", fp32_file), None, str(saved),
                                               dataset_name=str(texts), dataset_config_name="default",
                                               dataset_split="train", column_name="sentence",
                                               file_suffix="qint8_quantized")
        _mark_exported(saved, file_name)
    return _load_backend(saved, "openvino", file_name)


def _predict_scorer(model: Any) -> Scorer:
    import torch

    def score(case: RerankCase) -> np.ndarray:
        return np.asarray(model.predict([(case.query, text) for text in case.texts], batch_size=32,
                                        activation_fn=torch.nn.Identity(), show_progress_bar=False), dtype=np.float32)

    return score


def _load_backend(folder: Path, backend: str, file_name: str | None) -> Any:
    """The saved model on ``backend`` from ``file_name`` (under ``folder``), or exported anew when it is None."""
    from sentence_transformers import CrossEncoder

    from explorer.models.joint_head import JointMeanCosine
    from explorer.models.trained import JOINT_HEAD_REF

    model_kwargs = {"export": True} if file_name is None else {"file_name": file_name}
    # the head is the project's own class, resolved here, so trust_remote_code stays off (as explorer.models.trained)
    return CrossEncoder._load_with_module_classes(str(folder), {JOINT_HEAD_REF: JointMeanCosine}, device="cpu",
                                                  local_files_only=True, backend=backend, model_kwargs=model_kwargs)


def saved_model(model: Any, folder: Path) -> Path:
    """``model`` saved in ``folder``/model, the folder sentence-transformers' backends load and export from; saved
    once (a finished save is marked, and an unfinished one is made again). Returns that folder."""
    saved = folder / "model"
    if not (folder / "model.done").exists():
        shutil.rmtree(saved, ignore_errors=True)
        saved.mkdir(parents=True)
        model.save_pretrained(str(saved))
        (folder / "model.done").touch()
    return saved


def _exported(folder: Path, file_name: str) -> bool:
    # the mark is written after the export, so an export stopped half way is made again
    return (folder / file_name).is_file() and (folder / f"{file_name}.done").is_file()


def _mark_exported(folder: Path, file_name: str) -> None:
    (folder / f"{file_name}.done").touch()


def _calibration_file(folder: Path, cases: Sequence[RerankCase]) -> Path:
    """A folder holding train.jsonl: up to ``CALIBRATION_TEXTS`` distinct candidate texts as {"sentence": text}."""
    texts = list(dict.fromkeys(text for case in cases for text in case.texts))[:CALIBRATION_TEXTS]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.jsonl").write_text("".join(json.dumps({"sentence": text}) + "\n" for text in texts),
                                        encoding="utf-8")
    return folder


def _import_problem(module: str, missing: Collection[str]) -> str | None:
    if any(module == gone or module.startswith(gone + ".") for gone in missing):
        return f"{module} is not installed"
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            return f"{exc.name} is not installed"
        return f"{module} is installed but does not import here ({type(exc).__name__}: {_first_line(exc)})"
    except Exception as exc:  # an installed package that does not import with this stack: the reason to report
        return f"{module} is installed but does not import here ({type(exc).__name__}: {_first_line(exc)})"
    return None


def _installed_transformers() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return "0"


def _version_at_least(installed: str, bound: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(installed) >= Version(bound)
    except InvalidVersion:
        return False


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return set(handle.read().split())
    except OSError:
        return set()  # not Linux: onnx_int8_target says what it needs


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]
