"""Which backend runs a transformer fastest on this machine, measured once and kept: OpenVINO or PyTorch, and for
rerankers whether OpenVINO's int8 graph beats its float one.

The answer depends on the CPU (AVX2, AVX-512, bf16 units, AMX), on the libraries' versions and on the model's
shape, not on what a flag in /proc/cpuinfo suggests, so it is measured: the same batch (16 rows of 128 tokens,
two batches per run, as the engine hands them over) through each candidate, alternating, the median of three
runs after one to warm up. The timings are kept in the folder of converted graphs (``choices.json``), keyed by the
CPU, the oneDNN ISA cap, the versions, the precision and the model's architecture, so a later process on the same
machine reads the choice instead of measuring again. A measurement on another CPU never decides for this one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from explorer.inference.openvino_backend import keep_alive

logger = logging.getLogger(__name__)

FILE = "choices.json"
ROWS, LENGTH, BATCHES, REPEATS = 16, 128, 2, 3

# runs a list of batches through one candidate (the engine's way: OpenVINO several at once, PyTorch one by one)
RunMany = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Choice:
    """The candidate that ran fastest and every candidate's median time (ms) on the timing batches."""

    chosen: str
    median_ms: dict[str, float]
    measured_now: bool  # False: read back from an earlier measurement on this machine

    @property
    def note(self) -> str:
        """The measurement in a sentence, for the engine's note."""
        timings = ", ".join(f"{name} {ms:.0f} ms" for name, ms in sorted(self.median_ms.items(), key=lambda i: i[1]))
        when = "measured now" if self.measured_now else "measured earlier"
        return f"{self.chosen} chosen by measurement on this CPU ({timings} per {BATCHES} batches of " \
               f"{ROWS}x{LENGTH} tokens; {when}). "


def fastest(median_ms: Mapping[str, float], preferred: str) -> str:
    """The candidate with the lowest time; ``preferred`` where it ties (the faster-when-equal backend)."""
    if not median_ms:
        raise ValueError("There is nothing to choose from: no candidate was timed.")
    best = min(median_ms.values())
    return preferred if median_ms.get(preferred) == best else min(median_ms, key=lambda name: median_ms[name])


def timing_batches(example: dict[str, Any]) -> list[dict[str, Any]]:
    """``BATCHES`` batches of ``ROWS`` x ``LENGTH`` tokens made from ``example``'s longest row (its tokens
    repeated), with every token attended: what a batch of typical pairs costs, whatever the words."""
    import torch

    ids = example["input_ids"]
    mask = example["attention_mask"]
    longest = int(mask.sum(dim=1).argmax())
    tokens = ids[longest][mask[longest].bool()]
    row = tokens.repeat(LENGTH // max(len(tokens), 1) + 1)[:LENGTH]
    batch = {"input_ids": row.unsqueeze(0).repeat(ROWS, 1).contiguous(),
             "attention_mask": torch.ones(ROWS, LENGTH, dtype=mask.dtype)}
    if "token_type_ids" in example:
        batch["token_type_ids"] = torch.zeros(ROWS, LENGTH, dtype=example["token_type_ids"].dtype)
    return [dict(batch) for _ in range(BATCHES)]


def measure(candidates: Mapping[str, RunMany], batches: list[dict[str, Any]],
            clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median milliseconds per run of ``batches`` through each candidate, runs alternating between them."""
    import torch

    times: dict[str, list[float]] = {name: [] for name in candidates}
    with torch.inference_mode():
        for name, run in candidates.items():
            run(batches)  # warm-up: first-call allocations and kernel selection are not the steady state
        for _ in range(REPEATS):
            for name, run in candidates.items():
                started = clock()
                run(batches)
                times[name].append((clock() - started) * 1000)
    return {name: round(statistics.median(values), 2) for name, values in times.items()}


def choice_key(backbone: Any, precision: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """Names what a choice depends on: the CPU and its ISA cap, the versions, the precision and the architecture
    (the weights do not change how fast a graph runs, so a fine-tuned copy of a model shares its choice)."""
    import openvino
    import torch

    env = os.environ if environ is None else environ
    header = {"cpu": _cpu_description(), "isa_cap": env.get("ONEDNN_MAX_CPU_ISA", ""),
              "threads": torch.get_num_threads(), "openvino": openvino.__version__, "torch": torch.__version__,
              "precision": precision, "what": what, "class": type(backbone).__name__,
              "config": json.loads(backbone.config.to_json_string()) if hasattr(backbone, "config") else None}
    for volatile in ("_name_or_path", "transformers_version", "architectures", "id2label", "label2id"):
        if isinstance(header["config"], dict):
            header["config"].pop(volatile, None)
    return hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()[:24]


def kept_choice(folder: Path | None, key: str, names: set[str]) -> Choice | None:
    """The choice measured earlier under ``key`` among exactly ``names``, or None (never measured, or unreadable)."""
    entry = _read(folder).get(key) if folder is not None else None
    if not isinstance(entry, dict):
        return None
    timings = entry.get("median_ms")
    if not isinstance(timings, dict) or set(timings) != names or entry.get("chosen") not in names:
        return None
    try:
        return Choice(str(entry["chosen"]), {str(k): float(v) for k, v in timings.items()}, measured_now=False)
    except (TypeError, ValueError):
        return None


def keep_choice(folder: Path | None, key: str, choice: Choice) -> None:
    """Keeps ``choice`` under ``key`` (the file is written whole, in one step); a folder that cannot be written to
    only means measuring again next time."""
    if folder is None:
        return
    kept = _read(folder)
    kept[key] = {"chosen": choice.chosen, "median_ms": choice.median_ms, "cpu": _cpu_description(),
                 "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(prefix=".choices-", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(kept, out, indent=1)
        os.replace(staging, folder / FILE)
    except OSError as exc:
        logger.warning("The backend choice could not be kept in %s (%s); it will be measured again.", folder, exc)


def choose(folder: Path | None, key: str, candidates: Mapping[str, Callable[[], Any]],
           batches: Callable[[], list[dict[str, Any]]], preferred: str,
           runner: Callable[[Any], RunMany] = lambda made: made) -> tuple[Choice, dict[str, Any]]:
    """The kept choice among ``candidates``, else one measured now and kept; and the candidates made to measure
    (name -> what its factory made; empty when the choice was read back), so the chosen one is not made twice.
    ``runner`` turns what a factory made into the function that runs batches through it."""
    kept = kept_choice(folder, key, set(candidates))
    if kept is not None:
        return kept, {}
    made = {name: make() for name, make in candidates.items()}
    timings = measure({name: runner(thing) for name, thing in made.items()}, batches())
    choice = Choice(fastest(timings, preferred), timings, measured_now=True)
    logger.info("backend choice: %s", choice.note)
    keep_choice(folder, key, choice)
    for name, thing in made.items():
        if name != choice.chosen:
            keep_alive(thing)
    return choice, made


def _read(folder: Path | None) -> dict[str, Any]:
    if folder is None:
        return {}
    try:
        data = json.loads((folder / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cpu_description() -> str:
    """The CPU's model name and a digest of its flags: two machines with the same name but other units differ."""
    name, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name") and ":" in line:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and ":" in line and not flags:
                    flags = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{name} [{hashlib.sha256(flags.encode()).hexdigest()[:8]}]"
