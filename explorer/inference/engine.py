"""Fast, faithful inference for a sentence-transformers model (a CrossEncoder or a SentenceTransformer).

What makes it fast, in order of what it buys on a CPU with bf16 units (see ``python -m explorer bench``):

- the transformer in bf16 through OpenVINO (AMX kernels, fused attention; ``explorer.inference.openvino_backend``), or,
  without OpenVINO, through a private bf16 copy of the transformer's weights in PyTorch; for rerankers,
  optionally (``EngineConfig.int8``, the app's choice on such CPUs) its matrix products in int8;
- one tokenisation of all inputs, then batches of similar token length (``explorer.inference.length_batching``), so
  little is spent on padding; a token budget makes batches of short inputs larger;
- ``torch.inference_mode``.

What keeps it faithful: the heads after the transformer (pooling, normalisation, score heads) run in fp32 on
its output; tokenisation and truncation are the model's own (``model.preprocess``, through
``explorer.inference.tokenizing.preprocessed``); results come back in input order; every input cut at the model's
token limit is counted and reported.

A model object is shared by every browser session, so nothing here changes it: reduced-precision copies
and converted graphs are the engine's own, built once under a lock. A loaded model carries its engine
(``explorer.models.info.LoadedModel``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from explorer.inference import upgrade
from explorer.inference.backends import EngineConfig, EngineInfo, Stage, build_stages, example_inputs
from explorer.inference.device import DeviceChoice
from explorer.inference.length_batching import plan_for_streams
from explorer.inference.shared_runs import SharedRuns
from explorer.inference.tokenizing import preprocessed, tokenizing
from explorer.inference.upgrade import Upgrade

logger = logging.getLogger(__name__)

# progress(done, total), after every batch
Progress = Callable[[int, int], None]
GROUP = 8  # batches handed to the backend at once (progress is reported after each group)


@dataclass(frozen=True)
class EngineOutput:
    """The outputs of one run, in input order, with the number of tokens read per input and the model's token limit."""

    values: np.ndarray  # one row per input, in input order, float32
    lengths: np.ndarray  # tokens the model read per input (after truncation)
    max_length: int  # the model's token limit
    ran: EngineInfo | None = None  # the stages that computed it (None: nothing ran, no inputs)

    @property
    def truncated(self) -> np.ndarray:
        """Inputs that reached the token limit: the model did not read past it."""
        return self.lengths >= self.max_length


class InferenceEngine:
    """Runs one model's inference; the backend is chosen and prepared once, on first use, under a lock."""

    def __init__(self, model: Any, device: DeviceChoice, config: EngineConfig = EngineConfig()) -> None:
        self.model = model
        self.device = device
        self.config = config
        # Names this engine's model where the model has no fingerprint (models built in-process).
        self.token = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._stages: list[Stage] | None = None
        self._info: EngineInfo | None = None
        self._upgrade: Upgrade | None = None  # faster stages being made in the background
        # two calls at once: one tokenises while the other computes (bench-sessions measured one and two)
        self.shared = SharedRuns(lambda inputs, output: self.run(inputs, output), concurrent=2)

    @property
    def max_length(self) -> int:
        """The token limit: the model's ``max_seq_length``, else its tokenizer's ``model_max_length``, else 512."""
        limit = getattr(self.model, "max_seq_length", None)
        if not limit:
            limit = getattr(getattr(self.model, "tokenizer", None), "model_max_length", 512)
        return int(limit)

    @property
    def is_prepared(self) -> bool:
        """Whether the engine has been prepared (a model converted or quantised), so a run starts at once."""
        return self._info is not None

    @property
    def preparing_note(self) -> str:
        """What preparing this engine will do and roughly how long it takes, for a page to say while it waits."""
        if self.config.int8 and self.config.int8_in_background and self.device.precision == "bf16":
            return ("Preparing the reranker for bf16 inference (seconds); if its int8 graph is not kept yet, that "
                    "is made in the background while results come from bf16.")
        if self.config.int8 and self.device.device == "cpu" and self.device.precision == "bf16":
            return ("Preparing the reranker for int8 inference: quantising it takes about half a minute (up to a "
                    "minute on 2 cores), once per model; later runs read it back in a second.")
        if self.config.compiled_dir is not None and self.device.device == "cpu" and self.device.precision == "bf16":
            return "Preparing the model for bf16 inference: converting it takes a few seconds, once per model."
        if self.config.compiled_dir is not None and self.device.device == "cpu" and self.config.measure:
            return ("Preparing the model: converting it for OpenVINO takes a few seconds, once per model, and the "
                    "first time on this machine OpenVINO and PyTorch are timed on a sample batch to keep the faster.")
        return "Preparing the model: a few seconds."

    def run_shared(self, inputs: Sequence[Any], output: str) -> EngineOutput:
        """``run``, taking turns with other threads and sharing model calls with them (unless the config says
        not to): for callers that may come at once, such as the app's sessions."""
        if not self.config.share_runs:
            return self.run(inputs, output)
        shared = self.shared.run(inputs, output)
        return EngineOutput(shared.values, shared.lengths, self.max_length, shared.ran)

    def stages(self) -> list[Stage]:
        """The stages the engine runs now (prepares it on first call), for reports on how it runs."""
        return list(self._ready()[0])

    def info(self) -> EngineInfo:
        """The backend and precision in use now (prepares the engine on first call: may convert the model)."""
        return self._ready()[1]

    @property
    def upgrading(self) -> Upgrade | None:
        """The faster stages being made in the background (int8), or None when the engine runs as it will stay."""
        pending = self._upgrade
        return pending if pending is not None and not pending.done.is_set() else None

    def settled(self, timeout: float | None = None) -> EngineInfo:
        """``info()`` once any background preparation has finished (or ``timeout`` seconds have passed): for
        work whose every run must use the same stages, such as an evaluation."""
        self._ready()
        pending = self._upgrade
        if pending is not None:
            pending.done.wait(timeout)
        return self.info()

    def run(self, inputs: Sequence[Any], output: str, progress: Progress | None = None,
            max_batch: int | None = None) -> EngineOutput:
        """The model's ``output`` ("scores", "sentence_embedding", ...) for every input, in input order."""
        import torch

        total = len(inputs)
        if total == 0:
            return EngineOutput(np.zeros((0,), dtype=np.float32), np.zeros(0, dtype=np.int64), self.max_length)
        stages, ran = self._ready()
        with tokenizing(self.model):
            features = preprocessed(self.model, list(inputs))
        lengths = features["attention_mask"].sum(dim=1).numpy().astype(np.int64)
        # as many batches of about equal cost as keep every stream of the backend busy to the end (a cascade's top
        # M, a small request, and the last batches of a long run)
        plans = plan_for_streams(lengths, max_batch or self.config.max_batch, self.config.token_budget,
                                 int(getattr(stages[0], "streams", 1)))
        left = getattr(getattr(self.model, "tokenizer", None), "padding_side", "right") == "left"
        target = getattr(self.model, "device", None)
        first, rest = stages[0], stages[1:]
        # A stage that can run several batches at once (OpenVINO, one per CPU stream) gets them in groups.
        run_many: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = getattr(
            first, "run_many", lambda batches: [first(batch) for batch in batches])
        values: np.ndarray | None = None
        done = 0
        with torch.inference_mode():
            for start in range(0, len(plans), GROUP):
                group = plans[start:start + GROUP]
                batches = [_rows(features, rows, int(lengths[rows].max()), left, total, target) for rows in group]
                for rows, batch in zip(group, run_many(batches)):
                    for stage in rest:
                        batch = stage(batch)
                    result = batch[output].float().cpu().numpy()
                    if values is None:
                        values = np.empty((total, *result.shape[1:]), dtype=np.float32)
                    values[rows] = result
                    done += len(rows)
                if progress is not None:
                    progress(done, total)
        if values is None:
            raise RuntimeError("No batch ran although there were inputs; this is a bug in length_batching.")
        return EngineOutput(values, lengths, self.max_length, ran)

    def _ready(self) -> tuple[list[Stage], EngineInfo]:
        with self._lock:
            if self._stages is None or self._info is None:
                # Two inputs of different lengths, so the example batch is padded: a converted graph then
                # always applies the attention mask (a trace of an unpadded batch could leave it out).
                with tokenizing(self.model):
                    example = self.model.preprocess(example_inputs(self.model))
                prepared = build_stages(self.model, self.device, self.config, example)
                self._stages, self._info = prepared.stages, prepared.info
                logger.info("inference engine for %s: %s (%s)", type(self.model).__name__, self._info.label,
                            self._info.note)
                if prepared.later is not None:
                    self._upgrade = Upgrade("int8", self._info.label)
                    upgrade.start(self._upgrade, prepared.later, self._swap)
            return self._stages, self._info

    def _swap(self, made: tuple[list[Stage], EngineInfo]) -> None:
        """Puts the stages made in the background in place; runs already started finish on the old ones."""
        from explorer.inference.openvino_backend import keep_alive

        with self._lock:
            keep_alive(self._stages)  # runs may still hold them; a compiled graph is never destroyed mid-process
            self._stages, self._info = made
            self._upgrade = None
        logger.info("inference engine for %s now runs %s", type(self.model).__name__, made[1].label)

def _rows(features: dict[str, Any], rows: np.ndarray, width: int, left: bool, total: int, target: Any) -> dict[str, Any]:
    """The batch of ``rows``, cut to ``width`` positions (its longest row), on the model's device."""
    import torch

    index = torch.from_numpy(rows)
    batch: dict[str, Any] = {}
    for key, value in features.items():
        if isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape[0] == total:
            value = value.index_select(0, index)
            if value.dim() == 2:
                value = value[:, -width:] if left else value[:, :width]
            if target is not None:
                value = value.to(target)
        batch[key] = value
    return batch
