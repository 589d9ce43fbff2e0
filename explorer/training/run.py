"""One training run from start to end: data, held-out score before, training, score after, saved model.

The CLI (`python -m explorer train`) and the Train page both call ``train_and_evaluate``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from explorer.errors import ConfigError
from explorer.inference.device import DeviceChoice
from explorer.loading import load_beir
from explorer.loading.paths import check_readable
from explorer.models.info import LoadedModel, ModelInfo
from explorer.models.resolution import check_model_folder, load_bi_encoder, load_reranker
from explorer.models.trained import save_reranker
from explorer.pipeline import RetrievalPipeline
from explorer.retrieval.embedding_cache import EmbeddingCache
from explorer.settings import DEFAULT_BI_ENCODER, Settings
from explorer.training.data import PseudoKind, carve_split, labelled_groups, pseudo_query_groups, teacher_scores
from explorer.training.evaluation import best_blend, held_out_ndcg
from explorer.training.trainer import StopFlag, TrainProgress, TrainSettings, build_model, train


@dataclass(frozen=True)
class TrainRequest:
    """What to train on and where to save it: the data folder, the splits, the sources of groups and the settings."""

    data: Path
    out: Path
    split: str = "train"
    held_out: str = "test"
    use_labels: bool = True
    pseudo: PseudoKind | None = None
    pseudo_limit: int | None = None
    bi_encoder: str = DEFAULT_BI_ENCODER
    depth: int = 100
    # with one labelled split (as in Cranfield): hold out this share of its queries instead of a second split
    held_out_share: float | None = None
    settings: TrainSettings = TrainSettings()
    # a reranker to distil: its scores of the groups' pairs become the targets (settings.loss must be "distill")
    teacher: str | None = None
    # Where a folder the request names may be, for a request made on a page (whoever opens it types the names):
    # the teacher and bi-encoder folders under ``model_roots`` (``page_model_roots``, as the sidebar's model boxes),
    # the data folder and the files in it under ``readable_roots`` (``Settings.readable_roots``). None: anywhere,
    # the command line.
    model_roots: tuple[Path, ...] | None = None
    readable_roots: tuple[Path, ...] | None = None


@dataclass(frozen=True)
class TrainResult:
    """A finished run: its folder, held-out nDCG@10 before and after, steps, losses, and whether it stopped early."""

    folder: Path
    before: dict[str, float]
    after: dict[str, float]
    steps: int
    losses: tuple[float, ...]
    stopped_early: bool


def load_teacher(name: str, device: DeviceChoice, settings: Settings,
                 folder_roots: tuple[Path, ...] | None = None) -> LoadedModel:
    """The teacher to distil, scoring at the training device's precision: exactly in fp32 where training runs in
    fp32, in bf16 where it runs in bf16; never int8, a speed-up the teacher's targets should not carry.
    ``folder_roots``: see ``TrainRequest.model_roots``."""
    path = "fp32" if device.precision == "fp32" else "bf16"
    return load_reranker(name, device, replace(settings, rerank_int8=False, engine_path=path),
                         folder_roots=folder_roots)


def check_folders(request: TrainRequest) -> None:
    """Raises DataLoadError or ModelLoadError when a folder ``request`` names lies outside its roots (see
    ``TrainRequest.model_roots``), before anything is loaded or trained."""
    if request.readable_roots is not None:
        check_readable(request.data, request.readable_roots)
    check_model_folder(request.bi_encoder, "bi-encoder", request.model_roots)
    if request.teacher is not None:
        check_model_folder(request.teacher, "reranker", request.model_roots)


def train_and_evaluate(request: TrainRequest, settings: Settings, device: DeviceChoice,
                       say: Callable[[str], None] = print, progress: TrainProgress | None = None,
                       stop: StopFlag | None = None) -> TrainResult:
    """Measures the untrained model on the held-out split, trains, measures again, and saves the model with its card.

    Progress goes to ``say``; raises ConfigError when the request cannot run (e.g. no held-out split)."""
    check_folders(request)
    data = load_beir(request.data, readable_roots=request.readable_roots)
    if request.held_out_share is not None:
        data = carve_split(data, request.split, request.held_out_share)
        request = replace(request, split=f"{request.split}-fit", held_out=f"{request.split}-held-out")
        say(f"training on {len(data.qrels_by_split[request.split])} queries, holding out "
            f"{len(data.qrels_by_split[request.held_out])}")
    if request.held_out not in data.qrels_by_split:
        raise ConfigError(f"No labelled split {request.held_out!r} to measure on; "
                          f"this data set has: {', '.join(data.splits) or 'no labels'}.")
    if request.use_labels and request.held_out == request.split:
        raise ConfigError("The training split and the held-out split must differ.")
    if not request.use_labels and request.pseudo is None:
        raise ConfigError("Without labels, choose pseudo-queries (title or sentence) to train on.")
    bi = load_bi_encoder(request.bi_encoder, device, settings, folder_roots=request.model_roots)
    base = RetrievalPipeline.build(data, bi, None, EmbeddingCache(settings.cache_dir / "embeddings"))
    groups = labelled_groups(data, request.split, base) if request.use_labels else []
    if request.pseudo is not None:
        groups += pseudo_query_groups(data, base, request.pseudo, limit=request.pseudo_limit)
    say(f"training groups: {len(groups)}")
    teacher_pairs = None
    teacher_name = ""  # the teacher that ran, with the name asked for beside it where another stood in
    if (request.teacher is None) != (request.settings.loss != "distill"):
        raise ConfigError("Distillation needs both a teacher and the loss 'distill'; give both or neither.")
    if request.teacher is not None:
        teacher = load_teacher(request.teacher, device, settings, request.model_roots)
        if not teacher.info.trained_for_relevance:
            raise ConfigError(f"The teacher {teacher.info.loaded} is not trained for relevance, so there is nothing "
                              "to learn from it. Name a trained cross-encoder (a hub model, or one trained here).")
        teacher_name = teacher.info.display_name
        say(f"scoring {len(groups)} groups with the teacher {teacher_name}")
        teacher_pairs = teacher_scores(groups, teacher)
    untrained = LoadedModel(build_model(request.settings, device), ModelInfo("untrained", "", "packaged", ""), device)
    say("measuring the untrained model on the held-out queries")
    before = held_out_ndcg(data, request.held_out, base.with_reranker(untrained), depth=request.depth)
    say(f"before: {before}")
    with tempfile.TemporaryDirectory() as work:
        outcome = train(groups, request.settings, device, Path(work), progress=progress, stop=stop,
                        teacher_pairs=teacher_pairs)
    trained = LoadedModel(outcome.model, ModelInfo("trained", "", "trained here", ""), device)
    say("measuring the trained model on the held-out queries")
    after = held_out_ndcg(data, request.held_out, base.with_reranker(trained), depth=request.depth)
    say(f"after: {after}")
    sources = (["split " + request.split] if request.use_labels else []) + (
        [f"{request.pseudo} pseudo-queries"] if request.pseudo else []) + (
        [f"scores of the teacher {teacher_name}"] if teacher_name else [])
    card = {
        "trained_on": f"{data.name}: " + " + ".join(sources), "base": request.settings.base,
        "head": request.settings.head, "loss": request.settings.loss, "steps": outcome.steps_done,
        "student_layers": request.settings.student_layers, "frozen_layers": request.settings.frozen_layers,
        "stopped_early": outcome.stopped_early, "learning_rate": request.settings.learning_rate,
        "held_out": f"{data.name} split {request.held_out}, depth {request.depth}",
        "held_out_ndcg@10_before": before, "held_out_ndcg@10": after,
        # chosen on the held-out split itself: a hint, not a tuned figure (the default reranker fixes 0.5 in advance)
        "recommended_blend": best_blend(after),
        "first_loss": outcome.losses[0] if outcome.losses else None,
        "last_loss": outcome.losses[-1] if outcome.losses else None,
    }
    folder = save_reranker(outcome.model, request.out, card)
    say(f"saved to {folder}")
    return TrainResult(folder, before, after, outcome.steps_done, outcome.losses, outcome.stopped_early)
