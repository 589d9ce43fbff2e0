"""``build-default-reranker`` and ``train``: rerankers made on this machine."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from explorer.cli.output import emit, say
from explorer.settings import Settings
from explorer.spec import model_name

if TYPE_CHECKING:
    from explorer.inference.device import DeviceChoice


def build_default(args: argparse.Namespace) -> int:
    """Trains the default offline reranker where no pretrained cross-encoder can be had, then prepares its engine."""
    from dataclasses import replace

    from explorer.inference.device import choose_device
    from explorer.models.resolution import hub_reachable
    from explorer.training.default_model import (
        DEFAULT_SETTINGS,
        build_default_reranker,
        default_reranker_exists,
        default_reranker_problem,
        set_aside_default_reranker,
    )

    settings = Settings.from_env()
    device = choose_device(args.device)
    if args.if_needed and default_reranker_exists(settings):
        problem = default_reranker_problem(settings)
        if problem is None:
            say(f"default reranker: already built in {settings.models_dir}")
            _prepare_engine(settings, device)
            return 0
        say(f"default reranker: {problem}")
        say(f"default reranker: the damaged copy is kept in {set_aside_default_reranker(settings)}; building it again")
    if args.if_needed and hub_reachable(settings):
        say("default reranker: the hub is reachable, so the pretrained cross-encoder will be used; nothing to build")
        return 0
    say("default reranker: no pretrained cross-encoder can be had here, so one is trained now (a few minutes)")
    build_default_reranker(settings, device, say=say,
                           train_settings=replace(DEFAULT_SETTINGS, steps=args.steps or DEFAULT_SETTINGS.steps))
    _prepare_engine(settings, device)
    return 0


def _prepare_engine(settings: Settings, device: DeviceChoice) -> None:
    """Converts (and, for int8, quantises) the default reranker for the fast engine now, so that the app's
    first query does not wait for it; kept in the cache folder, so later runs only read it back."""
    from explorer.models.packaged import TRAINED_RERANKER
    from explorer.models.resolution import load_reranker

    loaded = load_reranker(TRAINED_RERANKER, device, settings, hub_check=lambda _settings: False)
    info = loaded.engine.info()
    say(f"default reranker: runs as {info.label} ({info.note})")


def build_small(args: argparse.Namespace) -> int:
    """Distils a small student of a reranker (its lower layers, trained to give the teacher's scores) on a data set's
    corpus: the cascade's small reranker. Labels of a train split are used where the data set has one; its test
    split is held out to measure the student, never trained on."""
    from pathlib import Path

    from explorer.inference.device import choose_device
    from explorer.loading import load_beir
    from explorer.models.packaged import small_reranker_dir
    from explorer.training.run import TrainRequest, train_and_evaluate
    from explorer.training.trainer import TrainSettings

    settings = Settings.from_env()
    out = Path(args.out).expanduser() if args.out else small_reranker_dir(settings)
    splits = load_beir(args.data).splits
    has_train = "train" in splits
    request = TrainRequest(
        data=Path(args.data), out=out, split="train", held_out="test" if "test" in splits else splits[0],
        use_labels=has_train, pseudo="title",
        settings=TrainSettings(loss="distill", steps=args.steps, frozen_layers=0, student_layers=args.layers,
                               max_length=args.max_length),
        teacher=model_name(args.teacher, "reranker"))
    say(f"small reranker: {args.layers} layer(s) reading {args.max_length} tokens, distilled from {request.teacher} "
        f"on {args.data} ({'train labels and ' if has_train else ''}title pseudo-queries), {args.steps} steps")

    def show(step: int, total: int, loss: float | None) -> None:
        if step % 10 == 0 or step == total:
            say(f"step {step}/{total}" + (f", loss {loss:.3f}" if loss is not None else ""))

    result = train_and_evaluate(request, settings, choose_device(args.device), say=say, progress=show)
    emit(json.dumps({"folder": str(result.folder), "before": result.before, "after": result.after,
                     "steps": result.steps}, indent=1))
    return 0


def train(args: argparse.Namespace) -> int:
    """Fine-tunes a reranker and prints held-out nDCG@10 before and after, as JSON."""
    from pathlib import Path

    from explorer.inference.device import choose_device
    from explorer.training.run import TrainRequest, train_and_evaluate
    from explorer.training.trainer import TrainSettings

    request = TrainRequest(
        data=Path(args.data), out=Path(args.out), split=args.split, held_out=args.held_out,
        use_labels=not args.no_labels, pseudo=None if args.pseudo == "none" else args.pseudo,
        pseudo_limit=args.pseudo_limit, depth=args.depth, held_out_share=args.held_out_share,
        bi_encoder=model_name(args.bi_encoder, "bi-encoder"),
        settings=TrainSettings(base=args.base, head=args.head, loss="distill" if args.teacher else args.loss,
                               steps=args.steps, learning_rate=args.lr, max_length=args.max_length,
                               frozen_layers=args.frozen_layers, student_layers=args.student_layers),
        teacher=model_name(args.teacher, "reranker") if args.teacher else None,
    )

    def show(step: int, total: int, loss: float | None) -> None:
        if step % 10 == 0 or step == total:
            say(f"step {step}/{total}" + (f", loss {loss:.3f}" if loss is not None else ""))

    result = train_and_evaluate(request, Settings.from_env(), choose_device(args.device), say=say, progress=show)
    emit(json.dumps({"folder": str(result.folder), "before": result.before, "after": result.after,
                      "steps": result.steps, "losses": list(result.losses)}, indent=1))
    return 0
