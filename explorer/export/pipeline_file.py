"""The pipeline file: the configuration chosen in the explorer as one versioned JSON file that a service (or the
explorer again) can run: first stage, models with their fingerprints, depth, blend, passages, the threshold with the
scale it applies to, the calibration of the reranker's scores into a probability of relevance (optional), a cascade
(optional: a small reranker reading every candidate, the reranker only its best), and the quality and latency it was
chosen with.

Read back, it is checked against ``SCHEMA`` (JSON Schema); every problem is named by its place in the file. The file
never holds a token or key: a Milvus server's token stays in MILVUS_TOKEN of whoever runs the pipeline.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from explorer.errors import ConfigError
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.score_calibration import CALIBRATION_METHODS, Calibration, calibration_problems
from explorer.evaluation.tables import summary_json
from explorer.models.info import LoadedModel, ModelInfo
from explorer.rerank.cascade import CascadeSpec
from explorer.rerank.scoring import sigmoid
from explorer.rerank.windows import WindowOptions
from explorer.retrieval.first_stage import FIRST_STAGE_METHODS
from explorer.retrieval.milvus_connection import MilvusSource
from explorer.retrieval.passages import PassageOptions
from explorer.signals.config import SignalConfig
from explorer.spec import Blend, OpenPipeline, PipelineSpec

KIND = "relevance-explorer pipeline"
VERSION = 1
ThresholdScale = Literal["raw", "probability"]

_MODEL = {"type": "object", "required": ["asked", "loaded", "fingerprint"], "additionalProperties": False,
          "properties": {"asked": {"type": "string", "minLength": 1}, "loaded": {"type": "string", "minLength": 1},
                         "fingerprint": {"type": "string"}}}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["kind", "version", "dataset", "first_stage", "reranker", "depth", "blend", "passages", "threshold",
                 "measured", "created"],
    "additionalProperties": False,
    "properties": {
        "kind": {"const": KIND},
        "version": {"const": VERSION},
        "dataset": {"type": "string", "minLength": 1},
        "first_stage": {
            "type": "object", "required": ["method", "bi_encoder", "index"], "additionalProperties": False,
            "properties": {
                "method": {"enum": list(FIRST_STAGE_METHODS)},
                "bi_encoder": {"oneOf": [_MODEL, {"type": "null"}]},
                "index": {"type": "string"},
                "milvus": {"type": "object", "additionalProperties": False,
                           "properties": {name: {"type": "string"} for name in MilvusSource.__dataclass_fields__}},
            },
        },
        "reranker": {"oneOf": [_MODEL, {"type": "null"}]},
        "depth": {"type": "integer", "minimum": 1},
        "blend": {"type": "object", "required": ["mode", "weight"], "additionalProperties": False,
                  "properties": {"mode": {"enum": ["card", "alone", "custom"]},
                                 "weight": {"type": "number", "minimum": 0, "maximum": 1}}},
        "passages": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["max_tokens", "overlap"], "additionalProperties": False,
            "properties": {"max_tokens": {"type": "integer", "minimum": 16}, "overlap": {"type": "integer",
                                                                                          "minimum": 0}}}]},
        "threshold": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["value", "scale"], "additionalProperties": False,
            "properties": {"value": {"type": "number"}, "scale": {"enum": ["raw", "probability"]}}}]},
        "measured": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["source", "label_version", "summary"], "additionalProperties": False,
            "properties": {"source": {"type": "string"}, "label_version": {"type": "string"},
                           "summary": {"type": "object"}}}]},
        "created": {"type": "string"},
        # optional, so files written before calibration existed stay valid; the values are checked further by
        # ``calibration_problems`` (sorted steps, equal lengths)
        "calibration": {
            "type": "object", "required": ["method", "split", "pairs", "top_n", "relevant_grade", "parameters"],
            "additionalProperties": False,
            "properties": {
                "method": {"enum": list(CALIBRATION_METHODS)}, "split": {"type": "string", "minLength": 1},
                "pairs": {"type": "integer", "minimum": 2}, "top_n": {"type": "integer", "minimum": 1},
                "relevant_grade": {"type": "integer", "minimum": 1}, "reranker": {"type": "string"},
                "parameters": {"type": "object"}},
            "allOf": [
                {"if": {"properties": {"method": {"const": "platt"}}},
                 "then": {"properties": {"parameters": {
                     "required": ["slope", "intercept"], "additionalProperties": False,
                     "properties": {"slope": {"type": "number", "exclusiveMinimum": 0},
                                    "intercept": {"type": "number"}}}}}},
                {"if": {"properties": {"method": {"const": "isotonic"}}},
                 "then": {"properties": {"parameters": {
                     "required": ["thresholds", "probabilities"], "additionalProperties": False,
                     "properties": {"thresholds": {"type": "array", "minItems": 1, "items": {"type": "number"}},
                                    "probabilities": {"type": "array", "minItems": 1,
                                                      "items": {"type": "number", "minimum": 0, "maximum": 1}}}}}}},
            ],
        },
        # optional, so files written before the cascade existed stay valid; a cascade needs a reranker (``_check``)
        "cascade": {"type": "object", "required": ["small", "keep"], "additionalProperties": False,
                    "properties": {"small": _MODEL, "keep": {"type": "integer", "minimum": 1}}},
        # optional too: freshness, authority, numbers and diversity mixed with relevance (explorer.signals), resolved
        # against the corpus it was exported from (freshness's "now" and numbers' ranges written in), so a service
        # ranks a request as the page did; its values are checked further by SignalConfig.from_json
        "signals": {"type": "object", "required": ["signals", "diversity"], "additionalProperties": False,
                    "properties": {"signals": {"type": "array", "items": {
                        "type": "object", "required": ["kind", "field", "weight"],
                        "properties": {"kind": {"enum": ["freshness", "authority", "number"]},
                                       "field": {"type": "string", "minLength": 1},
                                       "weight": {"type": "number", "minimum": 0, "maximum": 1}}}},
                        "diversity": {"oneOf": [{"type": "null"}, {
                            "type": "object", "required": ["mode"],
                            "properties": {"mode": {"enum": ["mmr", "per-parent"]}}}]}}},
        # optional too: the reranker reads each long document's best window (explorer.rerank.windows)
        "window": {"type": "object", "required": ["max_tokens", "stride"], "additionalProperties": False,
                   "properties": {"max_tokens": {"type": "integer", "minimum": 16},
                                  "stride": {"type": "integer", "minimum": 0}}},
    },
}


@dataclass(frozen=True)
class ModelRef:
    """A model as asked for, the one that ran, and its fingerprint (its files' digest; "" where it has none)."""

    asked: str
    loaded: str
    fingerprint: str = ""

    @classmethod
    def of(cls, info: ModelInfo) -> ModelRef:
        """The reference of a loaded model."""
        return cls(info.requested or info.loaded, info.loaded, info.fingerprint)


@dataclass(frozen=True)
class FileCascade:
    """The file's cascade: the small reranker that reads every candidate, and how many of its best the reranker
    reads (``explorer.rerank.cascade``)."""

    small: ModelRef
    keep: int

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ConfigError(f"The reranker must read at least 1 of the small reranker's candidates; got "
                              f"keep={self.keep}.")

    @classmethod
    def of(cls, small: LoadedModel, keep: int) -> FileCascade:
        """The cascade of a pipeline whose small reranker ``small`` passes on its best ``keep``."""
        return cls(ModelRef.of(small.info), keep)

    def spec(self) -> CascadeSpec:
        """The cascade as a pipeline spec opens it: the small reranker by the name asked for."""
        return CascadeSpec(self.small.asked, self.keep)


@dataclass(frozen=True)
class Threshold:
    """Keep results whose reranker score is at least ``value``, on the ``raw`` score or its ``probability``."""

    value: float
    scale: ThresholdScale = "raw"

    def __post_init__(self) -> None:
        if self.scale not in ("raw", "probability"):
            raise ConfigError(f"A threshold's scale is 'raw' or 'probability', not {self.scale!r}.")
        if self.scale == "probability" and not 0.0 <= self.value <= 1.0:
            raise ConfigError(f"A probability threshold lies between 0 and 1, got {self.value}.")


@dataclass(frozen=True)
class Measured:
    """The evaluation the configuration was chosen with: where it came from (an evaluation run, a snapshot), the
    labels it was scored against, and its summary (metrics of both stages, median latency per stage)."""

    source: str
    label_version: str
    summary: dict[str, Any]

    @classmethod
    def of(cls, evaluation: Evaluation, source: str, label_version: str) -> Measured:
        """The summary of ``evaluation`` (the command line's ``eval --json`` figures)."""
        return cls(source, label_version, summary_json(evaluation))


def model_difference(role: str, wanted: ModelRef, loaded: ModelInfo) -> str | None:
    """How the model that loaded for ``role`` ("reranker", "bi-encoder") differs from the exported one ``wanted``:
    another model, or the same name with other weights (None when it does not differ)."""
    if loaded.loaded != wanted.loaded:
        return f"the {role} {wanted.loaded} was exported, but {loaded.loaded} loaded here"
    if wanted.fingerprint and loaded.fingerprint != wanted.fingerprint:
        return (f"the {role} {wanted.loaded} loaded here has other weights than the exported one "
                f"(fingerprint {loaded.fingerprint[:12] or 'none'} vs {wanted.fingerprint[:12]})")
    return None


@dataclass(frozen=True)
class PipelineFile:
    """The pipeline as the file holds it; ``spec()`` opens it again."""

    dataset: str
    first_stage: str
    bi_encoder: ModelRef | None  # None for BM25 alone
    index: str  # the first stage's index report line
    reranker: ModelRef | None
    depth: int
    blend: Blend
    passages: PassageOptions | None = None
    threshold: Threshold | None = None
    measured: Measured | None = None
    milvus: MilvusSource = MilvusSource()
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    calibration: Calibration | None = None  # the reranker's raw score -> probability of relevance
    cascade: FileCascade | None = None  # None: the reranker reads every candidate
    window: WindowOptions | None = None  # None: the reranker reads each document from its start
    signals: SignalConfig | None = None  # resolved against the corpus; None: relevance alone

    def spec(self) -> PipelineSpec:
        """The spec that opens this pipeline: the models by the names asked for (resolved as the explorer resolves
        them; ``differences`` says when another model loads), the blend at the weight it resolved to."""
        blend = Blend("alone") if self.blend.mode == "alone" else Blend("custom", self.blend.weight)
        return PipelineSpec(dataset=self.dataset, first_stage_method=self.first_stage,  # type: ignore[arg-type]
                            bi_encoder=self.bi_encoder.asked if self.bi_encoder else "default",
                            reranker=self.reranker.asked if self.reranker else None, passages=self.passages,
                            depth=self.depth, blend=blend, milvus=self.milvus,
                            cascade=self.cascade.spec() if self.cascade is not None else None, window=self.window,
                            signals=self.signals)

    def differences(self, opened: OpenPipeline) -> list[str]:
        """How the models ``opened`` loaded differ from the file's (another model, or other weights): [] when none."""
        reranker = opened.reranker.info if opened.reranker is not None else None
        small = opened.pipeline.cascade[0].info if opened.pipeline.cascade is not None else None
        found = (model_difference(role, wanted, info)
                 for role, wanted, info in (("bi-encoder", self.bi_encoder, opened.pipeline.bi_encoder.info),
                                            ("reranker", self.reranker, reranker),
                                            ("small reranker", self.cascade.small if self.cascade else None, small))
                 if wanted is not None and info is not None)
        return [difference for difference in found if difference is not None]

    def probability(self, raw: np.ndarray, reranker_gives_one: bool = True) -> np.ndarray | None:
        """The probability of relevance of reranker scores ``raw``: the file's calibration of the raw score when it
        has one, else the reranker's own sigmoid where it gives one (``reranker_gives_one``), else None."""
        if self.calibration is not None:
            return self.calibration.probability(raw)
        return sigmoid(np.asarray(raw, dtype=np.float32)) if reranker_gives_one else None

    def on_threshold_scale(self, raw: np.ndarray) -> np.ndarray:
        """Reranker scores as the threshold reads them: the raw scores, or their probability of relevance (see
        ``probability``; a probability threshold was exported only where there is one)."""
        raw = np.asarray(raw, dtype=np.float32)
        if self.threshold is not None and self.threshold.scale == "probability":
            return self.probability(raw)  # type: ignore[return-value]
        return raw

    def kept(self, raw: np.ndarray) -> np.ndarray:
        """Which results the threshold keeps (all of them without a threshold), for reranker scores ``raw``."""
        raw = np.asarray(raw, dtype=np.float32)
        if self.threshold is None:
            return np.ones(raw.shape, dtype=bool)
        return self.on_threshold_scale(raw) >= self.threshold.value

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        first_stage: dict[str, Any] = {"method": self.first_stage,
                                       "bi_encoder": asdict(self.bi_encoder) if self.bi_encoder else None,
                                       "index": self.index}
        if self.first_stage == "milvus":
            first_stage["milvus"] = asdict(self.milvus)
        content = {"kind": KIND, "version": VERSION, "dataset": self.dataset, "first_stage": first_stage,
                   "reranker": asdict(self.reranker) if self.reranker else None, "depth": self.depth,
                   "blend": {"mode": self.blend.mode, "weight": self.blend.weight},
                   "passages": asdict(self.passages) if self.passages else None,
                   "threshold": asdict(self.threshold) if self.threshold else None,
                   "measured": asdict(self.measured) if self.measured else None, "created": self.created}
        if self.calibration is not None:  # absent rather than null: the files of before stay as they were
            content["calibration"] = self.calibration.to_json()
        if self.cascade is not None:  # absent rather than null, for the same reason
            content["cascade"] = {"small": asdict(self.cascade.small), "keep": self.cascade.keep}
        if self.window is not None:
            content["window"] = asdict(self.window)
        if self.signals is not None:
            content["signals"] = self.signals.to_json()
        return content


def pipeline_file(opened: OpenPipeline, threshold: Threshold | None = None,
                  measured: Measured | None = None, calibration: Calibration | None = None) -> PipelineFile:
    """The file of an opened pipeline: the models that ran, the blend weight it resolved to, its first stage's
    index. A probability threshold needs a calibration, or a reranker that gives a probability; a calibration must
    have been fitted on this reranker's scores."""
    spec, pipeline = opened.spec, opened.pipeline
    reranker = opened.reranker
    if calibration is not None:
        if reranker is None:
            raise ConfigError("A calibration applies to reranker scores; this pipeline has no reranker.")
        if calibration.reranker and calibration.reranker != reranker.info.loaded:
            raise ConfigError(f"The calibration was fitted on the scores of {calibration.reranker}, but this pipeline "
                              f"reranks with {reranker.info.loaded}; fit it again with this reranker.")
    if threshold is not None:
        if reranker is None:
            raise ConfigError("A threshold applies to reranker scores; this pipeline has no reranker.")
        if threshold.scale == "probability" and calibration is None and not reranker.info.has_probability:
            raise ConfigError(f"{reranker.info.loaded} gives no probability (it is not a single-logit trained "
                              "reranker); calibrate its scores (on the Score threshold page, or `export --calibrate "
                              "platt`), or export the threshold on the raw score.")
    uses_bi_encoder = spec.first_stage_method != "bm25"
    blend = Blend("alone") if reranker is None else Blend(spec.blend.mode, opened.blend)
    # a pipeline without a reranker runs no cascade (there is nothing to pass the small one's best to), so none is
    # written: the file holds what runs
    cascade = FileCascade.of(*pipeline.cascade) if pipeline.cascade is not None and reranker is not None else None
    return PipelineFile(spec.dataset, spec.first_stage_method,
                        ModelRef.of(pipeline.bi_encoder.info) if uses_bi_encoder else None,
                        pipeline.first_stage(spec.first_stage_method).description,
                        ModelRef.of(reranker.info) if reranker is not None else None, spec.depth, blend,
                        spec.passages, threshold, measured, spec.milvus, calibration=calibration, cascade=cascade,
                        window=pipeline.window if reranker is not None else None,
                        signals=pipeline.resolved_signals(spec.signals) if spec.signals and spec.signals.active
                        else None)


def write_pipeline_file(file: PipelineFile, path: Path) -> Path:
    """Writes ``file`` as indented JSON to ``path`` (checked against the schema first) and returns the path."""
    content = file.to_json()
    _check(content, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return path


def read_pipeline_file(path: Path) -> PipelineFile:
    """The pipeline in the file at ``path``; a ConfigError names each problem by its place in the file."""
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read the pipeline file {path}: {exc.strerror or exc}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"The pipeline file {path} is not JSON: {exc}. Export it again from the explorer.") from None
    _check(content, str(path))
    return _from_json(content)


def _check(content: Any, where: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = sorted(validator.iter_errors(content), key=lambda e: list(map(str, e.absolute_path)))
    lines = [f"{'.'.join(map(str, p.absolute_path)) or '(the top level)'}: {p.message}" for p in problems[:10]]
    if not problems and "calibration" in content:  # what a schema cannot say: steps in order, lengths that match
        lines = calibration_problems(content["calibration"])
    if not problems and "cascade" in content and content["reranker"] is None:
        lines.append("cascade: a cascade passes the small reranker's best to the reranker, but this file has none "
                     "(reranker is null); export the pipeline again with a reranker, or remove the cascade to rank "
                     "with the first stage alone")
    if lines:
        raise ConfigError(f"The pipeline file {where} is not valid:\n- " + "\n- ".join(lines))


def _from_json(content: dict[str, Any]) -> PipelineFile:
    first = content["first_stage"]
    measured = content["measured"]
    return PipelineFile(
        content["dataset"], first["method"], _model(first["bi_encoder"]), first["index"], _model(content["reranker"]),
        content["depth"], Blend(content["blend"]["mode"], content["blend"]["weight"]),
        PassageOptions(**content["passages"]) if content["passages"] else None,
        Threshold(**content["threshold"]) if content["threshold"] else None,
        Measured(**measured) if measured else None, MilvusSource(**first.get("milvus", {})), content["created"],
        Calibration.from_json(content["calibration"]) if "calibration" in content else None,
        _cascade(content.get("cascade")), WindowOptions(**content["window"]) if "window" in content else None,
        SignalConfig.from_json(content["signals"]) if "signals" in content else None)


def _model(raw: dict[str, str] | None) -> ModelRef | None:
    return ModelRef(**raw) if raw else None


def _cascade(raw: dict[str, Any] | None) -> FileCascade | None:
    return FileCascade(ModelRef(**raw["small"]), raw["keep"]) if raw else None
