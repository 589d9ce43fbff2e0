"""Fast, faithful inference for a sentence-transformers model (a CrossEncoder or a SentenceTransformer).

What makes it fast, in order of what it buys on a CPU with bf16 units (see ``python -m explorer bench``):

- the transformer in bf16 through OpenVINO (AMX kernels, fused attention; ``explorer.inference.openvino_backend``), or,
  without OpenVINO, through a private bf16 copy of the transformer's weights in PyTorch; for rerankers,
  optionally (``EngineConfig.int8``, the app's choice on such CPUs) its matrix products in int8;
- one tokenisation of all inputs, then batches of similar token length (``explorer.inference.length_batching``), so
  little is spent on padding; a token budget makes batches of short inputs larger;
- ``torch.inference_mode``.

What keeps it faithful: the heads after the transformer (pooling, normalisation, score heads) run in fp32 on
its output; tokenisation and truncation are the model's own (``model.preprocess``); results come back in
input order; every input cut at the model's token limit is counted and reported.

A model object is shared by every browser session, so nothing here changes it: reduced-precision copies
and converted graphs are the engine's own, built once under a lock. A loaded model carries its engine
(``explorer.models.info.LoadedModel``).
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np

from explorer.errors import BackendUnavailableError, ConfigError
from explorer.inference.device import DeviceChoice, inference_context
from explorer.inference.length_batching import plan_batches

logger = logging.getLogger(__name__)

Backend = Literal["auto", "torch", "openvino"]
BACKENDS: tuple[Backend, ...] = ("auto", "torch", "openvino")
# progress(done, total), after every batch
Progress = Callable[[int, int], None]
Stage = Callable[[dict[str, Any]], dict[str, Any]]
GROUP = 8  # batches handed to the backend at once (progress is reported after each group)


@dataclass(frozen=True)
class EngineConfig:
    """``backend="auto"``: OpenVINO for bf16 on the CPU when it is installed and a folder is given to keep
    converted models in (the models the app and the command line load get one, see ``explorer.models.resolution``;
    converting takes seconds, reading back a fraction of one); else PyTorch. fp32 runs in PyTorch, exactly."""

    backend: Backend = "auto"
    max_batch: int = 32
    token_budget: int = 2048  # padded tokens per batch (rows x longest row)
    compiled_dir: Path | None = None
    # Rerankers on the OpenVINO path: matrix products in int8 (calibrated once on the sample data, kept in
    # compiled_dir), the rest in bf16. Faster again than bf16, a little less faithful (the benchmark says how much).
    int8: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"Unknown inference backend {self.backend!r}; choose one of: {', '.join(BACKENDS)}.")
        if self.max_batch < 1 or self.token_budget < 1:
            raise ConfigError("max_batch and token_budget must be at least 1.")


@dataclass(frozen=True)
class EngineInfo:
    """How an engine runs its model: the backend, the precision, and a note on why."""

    backend: str  # "openvino" or "torch"
    precision: str  # "bf16", "fp16", "fp32" or "bf16 autocast"
    note: str  # why, in a sentence or two

    @property
    def label(self) -> str:
        """Backend and precision for display, e.g. "openvino · bf16"."""
        return f"{self.backend} · {self.precision}"


@dataclass(frozen=True)
class EngineOutput:
    """The outputs of one run, in input order, with the number of tokens read per input and the model's token limit."""

    values: np.ndarray  # one row per input, in input order, float32
    lengths: np.ndarray  # tokens the model read per input (after truncation)
    max_length: int  # the model's token limit

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

    @property
    def max_length(self) -> int:
        """The token limit: the model's ``max_seq_length``, else its tokenizer's ``model_max_length``, else 512."""
        limit = getattr(self.model, "max_seq_length", None)
        if not limit:
            limit = getattr(getattr(self.model, "tokenizer", None), "model_max_length", 512)
        return int(limit)

    def info(self) -> EngineInfo:
        """The backend and precision in use (prepares the engine on first call: may convert the model)."""
        return self._ready()[1]

    def run(self, inputs: Sequence[Any], output: str, progress: Progress | None = None,
            max_batch: int | None = None) -> EngineOutput:
        """The model's ``output`` ("scores", "sentence_embedding", ...) for every input, in input order."""
        import torch

        total = len(inputs)
        if total == 0:
            return EngineOutput(np.zeros((0,), dtype=np.float32), np.zeros(0, dtype=np.int64), self.max_length)
        stages, _ = self._ready()
        features = self.model.preprocess(list(inputs))
        lengths = features["attention_mask"].sum(dim=1).numpy().astype(np.int64)
        plans = plan_batches(lengths, max_batch or self.config.max_batch, self.config.token_budget)
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
        return EngineOutput(values, lengths, self.max_length)

    def _ready(self) -> tuple[list[Stage], EngineInfo]:
        with self._lock:
            if self._stages is None or self._info is None:
                # Two inputs of different lengths, so the example batch is padded: a converted graph then
                # always applies the attention mask (a trace of an unpadded batch could leave it out).
                self._stages, self._info = self._build(self.model.preprocess(_example_inputs(self.model)))
                logger.info("inference engine for %s: %s (%s)", type(self.model).__name__, self._info.label,
                            self._info.note)
            return self._stages, self._info

    def _build(self, example: dict[str, Any]) -> tuple[list[Stage], EngineInfo]:
        model, device, config = self.model, self.device, self.config
        if getattr(model, "training", False):
            model.eval()  # what predict()/encode() do on every call; done once here
        modules = list(model.children()) if hasattr(model, "children") else []
        first, rest = (modules[0], modules[1:]) if modules else (None, [])
        on_cpu = device.device == "cpu"
        if config.backend == "openvino" and not on_cpu:
            raise ConfigError(f"The OpenVINO backend runs on the CPU, but the device is {device.device}. "
                              "Choose the device cpu, or the backend auto.")
        note = ""
        wants_openvino = config.backend == "openvino" or (
            config.backend == "auto" and on_cpu and device.precision == "bf16" and config.compiled_dir is not None)
        if wants_openvino and first is not None and config.int8 and _is_cross_encoder(model):
            from explorer.inference.openvino_backend import OpenVinoTransformer

            try:
                converted = OpenVinoTransformer(first, "int8", config.compiled_dir, example,
                                                lambda: _calibration(model))
                return [converted, *rest], EngineInfo(
                    "openvino", "int8", "OpenVINO runs the transformer's matrix products in int8 (calibrated on "
                                        "the sample data) and the rest in bf16; the heads run in PyTorch in fp32.")
            except (BackendUnavailableError, RuntimeError, ValueError, TypeError) as exc:
                logger.warning("int8 not used: %s", exc)
                note = f"int8 not used: {str(exc)[:160]} "
        if wants_openvino and first is not None:
            from explorer.inference.openvino_backend import OpenVinoTransformer

            try:
                converted = OpenVinoTransformer(first, device.precision, config.compiled_dir, example)
                return [converted, *rest], EngineInfo(
                    "openvino", device.precision,
                    note + f"OpenVINO runs the transformer in {device.precision}; the heads run in PyTorch in fp32.")
            except BackendUnavailableError as exc:
                if config.backend == "openvino":
                    raise
                logger.warning("OpenVINO backend not used: %s", exc)
                note += f"OpenVINO not used: {exc} "
            except (RuntimeError, ValueError, TypeError) as exc:  # a conversion OpenVINO cannot do
                if config.backend == "openvino":
                    raise BackendUnavailableError(f"OpenVINO could not convert this model: {exc}. Use the backend "
                                                  "auto or torch.") from exc
                logger.warning("OpenVINO could not convert the model, PyTorch runs it: %s", exc)
                note += f"OpenVINO could not convert this model ({str(exc)[:120]}). "
        if on_cpu and device.precision == "bf16":
            if first is not None and _is_text_transformer(first):
                return [_Float32Output(_bf16_copy(first)), *rest], EngineInfo(
                    "torch", "bf16", note + "PyTorch with a bf16 copy of the transformer's weights; heads in fp32.")
            return [_Autocast(model, device)], EngineInfo(
                "torch", "bf16 autocast", note + "PyTorch under bf16 autocast (the model is not a plain text "
                                                 "transformer, so its weights are not copied).")
        return [model], EngineInfo("torch", device.precision, note + f"PyTorch on {device.device.upper()}, "
                                                                     f"{device.precision}, as loaded.")


class _Float32Output:
    """Runs a reduced-precision module and hands its floating outputs on in fp32, for heads that stay in fp32."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        import torch

        out = self.module(features)
        return {key: value.float() if isinstance(value, torch.Tensor) and value.is_floating_point() else value
                for key, value in out.items()}


class _Autocast:
    def __init__(self, model: Any, device: DeviceChoice) -> None:
        self.model = model
        self.device = device

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        with inference_context(self.device):
            return self.model(features)


def _bf16_copy(module: Any) -> Any:
    import torch

    return copy.deepcopy(module).to(torch.bfloat16).eval()


def _is_text_transformer(module: Any) -> bool:
    from explorer.inference.openvino_backend import convertible_output

    return convertible_output(module) is not None


def _is_cross_encoder(model: Any) -> bool:
    from sentence_transformers import CrossEncoder

    return isinstance(model, CrossEncoder)


def _calibration(model: Any) -> list[dict[str, Any]]:
    """The calibration pairs, tokenised by the model, in batches."""
    from explorer.inference.calibration import CALIBRATION_BATCH, calibration_pairs

    pairs = calibration_pairs()
    return [model.preprocess(pairs[start:start + CALIBRATION_BATCH])
            for start in range(0, len(pairs), CALIBRATION_BATCH)]


def _example_inputs(model: Any) -> list[Any]:
    longer = "an example document, a little longer than the other one, so that the batch is padded"
    if _is_cross_encoder(model):
        return [("an example query", longer), ("a query", "a document")]
    return [longer, "a text"]


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
