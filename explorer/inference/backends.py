"""How a model runs: the engine's settings, and the backend chosen for them (OpenVINO int8 or bf16, a bf16
PyTorch copy, or the model as loaded), prepared once per engine.

The heads after the transformer (pooling, normalisation, score heads) always run in PyTorch in fp32; only the
transformer changes hands. A choice that cannot be had here falls back to the next one and says why.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Literal

from explorer.errors import BackendUnavailableError, ConfigError
from explorer.inference.device import DeviceChoice, inference_context

logger = logging.getLogger(__name__)

Backend = Literal["auto", "torch", "openvino"]
BACKENDS: tuple[Backend, ...] = ("auto", "torch", "openvino")
Stage = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class EngineConfig:
    """``backend="auto"`` on the CPU, with a folder to keep converted models in (the models the app and the command
    line load get one, see ``explorer.models.resolution``; converting takes seconds, reading back a fraction of
    one): with ``measure``, whichever of OpenVINO and PyTorch ran faster on this machine, at the device's
    precision (fp32 or bf16); without, OpenVINO where the CPU has bf16 units. Else PyTorch, as loaded."""

    backend: Backend = "auto"
    max_batch: int = 32
    token_budget: int = 2048  # padded tokens per batch (rows x longest row)
    compiled_dir: Path | None = None
    # Rerankers on the OpenVINO path: matrix products in int8 (calibrated once on the sample data, kept in
    # compiled_dir), the rest in bf16. Faster again than bf16, a little less faithful (the benchmark says how much).
    int8: bool = False
    # Runs asked for by several threads at once (browser sessions) take turns and share model calls
    # (explorer.inference.shared_runs); False: each caller runs the model at once, side by side with the others.
    share_runs: bool = True
    # int8 not yet kept on disk: answer from bf16 at once and quantise in the background (the app's choice, so a
    # new reranker's first query does not wait); False: quantise before the first run (the CLI, the benchmark).
    int8_in_background: bool = False
    # auto on the CPU: OpenVINO or PyTorch, and int8 or not, by which ran faster here (measured once per machine
    # and kept in compiled_dir, see explorer.inference.engine_choice; how the app and the command line load
    # models); False: OpenVINO wherever the CPU has bf16 units (and int8 where asked), the choice of a forced path
    measure: bool = False

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
class Prepared:
    """The stages an engine runs now, what they are, and the faster ones still to be made in the background."""

    stages: list[Stage]
    info: EngineInfo
    # makes the final stages (int8 being quantised) and says what they are; None: ``stages`` are final
    later: Callable[[], tuple[list[Stage], EngineInfo]] | None = None


def build_stages(model: Any, device: DeviceChoice, config: EngineConfig, example: dict[str, Any]) -> Prepared:
    """The stages that run ``model`` as ``config`` asks on ``device`` (converting it where a faster backend
    serves), and what they are; ``example`` is a tokenised padded batch for tracing. With
    ``config.int8_in_background`` and no int8 graph kept yet, the stages are bf16 and ``later`` makes the int8 ones."""
    if getattr(model, "training", False):
        model.eval()  # what predict()/encode() do on every call; done once here
    modules = list(model.children()) if hasattr(model, "children") else []
    first, rest = (modules[0], modules[1:]) if modules else (None, [])
    on_cpu = device.device == "cpu"
    if config.backend == "openvino" and not on_cpu:
        raise ConfigError(f"The OpenVINO backend runs on the CPU, but the device is {device.device}. "
                          "Choose the device cpu, or the backend auto.")
    note = ""
    measured = None  # the OpenVINO transformer made to measure it against PyTorch, reused where it is chosen
    wants_openvino = config.backend == "openvino" or (
        config.backend == "auto" and on_cpu and device.precision == "bf16" and config.compiled_dir is not None)
    if config.backend == "auto" and config.measure and on_cpu and config.compiled_dir is not None \
            and first is not None and _measurable(first):
        try:
            choice, measured = _openvino_or_torch(first, device, config, example)
            wants_openvino = choice.chosen == "openvino"
            note = choice.note
        except INT8_FAILURES as exc:  # OpenVINO could not convert it: PyTorch runs it, as without measuring
            logger.warning("OpenVINO not measured: %s", exc)
            wants_openvino, note = False, f"OpenVINO could not run this model ({str(exc)[:120]}). "
    if wants_openvino and first is not None and config.int8 and _is_cross_encoder(model):
        if config.int8_in_background and _int8_to_make(first, config, example):
            quick = build_stages(model, device, replace(config, int8=False), example)
            return Prepared(quick.stages, quick.info, lambda: _int8_or(quick, model, first, rest, config, example,
                                                                  device.precision))
        try:
            return Prepared(*_int8_stages(model, first, rest, config, example, device.precision, measured))
        except INT8_FAILURES as exc:
            logger.warning("int8 not used: %s", exc)
            note += f"int8 not used: {str(exc)[:160]} "
    if wants_openvino and first is not None:
        from explorer.inference.openvino_backend import OpenVinoTransformer

        try:
            converted = measured or OpenVinoTransformer(first, device.precision, config.compiled_dir, example)
            return Prepared([converted, *rest], EngineInfo(
                "openvino", converted.label,
                note + converted.note
                + f"OpenVINO runs the transformer in {converted.computes_in}; the heads run in PyTorch in fp32."))
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
            return Prepared([_Float32Output(_bf16_copy(first)), *rest], EngineInfo(
                "torch", "bf16", note + "PyTorch with a bf16 copy of the transformer's weights; heads in fp32."))
        return Prepared([_Autocast(model, device)], EngineInfo(
            "torch", "bf16 autocast", note + "PyTorch under bf16 autocast (the model is not a plain text "
                                             "transformer, so its weights are not copied)."))
    return Prepared([model], EngineInfo("torch", device.precision, note + f"PyTorch on {device.device.upper()}, "
                                                                          f"{device.precision}, as loaded."))


INT8_FAILURES = (BackendUnavailableError, RuntimeError, ValueError, TypeError)


def _int8_stages(model: Any, first: Any, rest: list[Any], config: EngineConfig, example: dict[str, Any],
                 precision: str = "bf16", floating: Any = None) -> tuple[list[Stage], EngineInfo]:
    """The transformer quantised to int8 by OpenVINO (read back when kept); raises one of INT8_FAILURES. With
    ``config.measure``, the float graph (in ``precision``; ``floating`` when one is made already) instead where it
    ran faster here."""
    from explorer.inference import engine_choice
    from explorer.inference.openvino_backend import OpenVinoTransformer, hf_model, keep_alive

    converted = OpenVinoTransformer(first, "int8", config.compiled_dir, example, lambda: _calibration(model),
                                    int8_rest=precision)
    note = ""
    if config.measure and config.backend == "auto":
        def float_graph() -> Any:
            return floating or OpenVinoTransformer(first, precision, config.compiled_dir, example)

        key = engine_choice.choice_key(hf_model(first), precision, "int8 or float")
        choice, made = engine_choice.choose(config.compiled_dir, key, {"openvino int8": lambda: converted,
                                                                       "openvino": float_graph},
                                            lambda: engine_choice.timing_batches(example), "openvino int8",
                                            lambda graph: graph.run_many)
        if choice.chosen == "openvino":
            floated = made.get("openvino") or float_graph()
            keep_alive(converted)
            return [floated, *rest], EngineInfo(
                "openvino", floated.label, choice.note + floated.note + "int8 ran slower than the float graph on "
                f"this CPU, so OpenVINO runs the transformer in {floated.computes_in}; the heads run in PyTorch in fp32.")
        note = choice.note
    if floating is not None:
        keep_alive(floating)
    return [converted, *rest], EngineInfo(
        "openvino", "int8", note + converted.note + "OpenVINO runs the transformer's matrix products in int8 "
                            "(calibrated on the sample data) and the rest in "
                            f"{converted.computes_in}; the heads run in PyTorch in fp32.")


def _int8_or(quick: Prepared, model: Any, first: Any, rest: list[Any], config: EngineConfig,
             example: dict[str, Any], precision: str) -> tuple[list[Stage], EngineInfo]:
    """The int8 stages, or, where they cannot be made, ``quick``'s with the reason in the note."""
    try:
        return _int8_stages(model, first, rest, config, example, precision)
    except INT8_FAILURES as exc:
        logger.warning("int8 not used: %s", exc)
        return quick.stages, replace(quick.info, note=f"int8 not used: {str(exc)[:160]} " + quick.info.note)


def _measurable(first: Any) -> bool:
    """Whether OpenVINO could run this transformer here, so that measuring it against PyTorch means something."""
    from explorer.inference.openvino_backend import unavailable_reason

    return unavailable_reason() is None and _is_text_transformer(first)


def _openvino_or_torch(first: Any, device: DeviceChoice, config: EngineConfig,
                       example: dict[str, Any]) -> tuple[Any, Any]:
    """Which of OpenVINO and PyTorch runs ``first`` faster here at the device's precision (kept from an earlier
    measurement, else measured now), and the OpenVINO transformer when one was made to measure (None if not);
    raises one of INT8_FAILURES where OpenVINO cannot convert it."""
    from explorer.inference import engine_choice
    from explorer.inference.openvino_backend import OpenVinoTransformer, hf_model

    def openvino() -> Any:
        return OpenVinoTransformer(first, device.precision, config.compiled_dir, example)

    def pytorch() -> Any:
        return _Float32Output(_bf16_copy(first)) if device.precision == "bf16" else first

    def runner(made: Any) -> engine_choice.RunMany:
        return made.run_many if hasattr(made, "run_many") else lambda batches: [made(batch) for batch in batches]

    key = engine_choice.choice_key(hf_model(first), device.precision, "openvino or torch")
    choice, made = engine_choice.choose(config.compiled_dir, key, {"openvino": openvino, "torch": pytorch},
                                        lambda: engine_choice.timing_batches(example), "openvino", runner)
    return choice, made.get("openvino")


def _int8_to_make(first: Any, config: EngineConfig, example: dict[str, Any]) -> bool:
    """Whether an int8 graph can be made here and is not kept yet (making it takes the better part of a minute)."""
    from explorer.inference.openvino_backend import int8_unavailable_reason, is_kept, unavailable_reason

    if unavailable_reason() is not None or int8_unavailable_reason() is not None:
        return False
    return not is_kept(first, "int8", config.compiled_dir, example)


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
    from explorer.inference.tokenizing import tokenizing

    pairs = calibration_pairs()
    with tokenizing(model):
        return [model.preprocess(pairs[start:start + CALIBRATION_BATCH])
                for start in range(0, len(pairs), CALIBRATION_BATCH)]


def example_inputs(model: Any) -> list[Any]:
    """Two inputs of different lengths for ``model`` (pairs for a cross-encoder), so an example batch is padded."""
    longer = "an example document, a little longer than the other one, so that the batch is padded"
    if _is_cross_encoder(model):
        return [("an example query", longer), ("a query", "a document")]
    return [longer, "a text"]
