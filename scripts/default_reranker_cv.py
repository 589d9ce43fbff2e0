"""Two-fold cross-validation of the default reranker's recipe on the sample data's train split alone (the test
split is never read): train on one half of the train queries plus the title pseudo-queries, measure nDCG@10 on
the other half, swap. How the recipe in ``explorer.training.default_model`` was chosen; a command, not a test.

    .venv/bin/python scripts/default_reranker_cv.py --steps 150 300 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.inference.device import choose_device  # noqa: E402
from explorer.loading import load_beir  # noqa: E402
from explorer.models.info import LoadedModel, ModelInfo  # noqa: E402
from explorer.models.resolution import load_bi_encoder  # noqa: E402
from explorer.pipeline import RetrievalPipeline  # noqa: E402
from explorer.records import Dataset  # noqa: E402
from explorer.retrieval.embedding_cache import EmbeddingCache  # noqa: E402
from explorer.settings import DEFAULT_BI_ENCODER, SAMPLE_DATA, Settings  # noqa: E402
from explorer.training.data import labelled_groups, pseudo_query_groups  # noqa: E402
from explorer.training.default_model import BLEND, DEFAULT_SETTINGS, TRAIN_SPLIT  # noqa: E402
from explorer.training.evaluation import held_out_ndcg  # noqa: E402
from explorer.training.trainer import train  # noqa: E402

HELD = "held-out half"


def halves(data: Dataset, seed: int = 0) -> tuple[list[str], list[str]]:
    """The train split's labelled query ids in two halves, shuffled with ``seed``."""
    ids = sorted(data.qrels_by_split[TRAIN_SPLIT])
    random.Random(seed).shuffle(ids)
    return ids[: len(ids) // 2], ids[len(ids) // 2:]


def fold(data: Dataset, train_ids: list[str], held_ids: list[str]) -> Dataset:
    """The data set with only ``train_ids`` as its train split and ``held_ids`` as the held-out split."""
    qrels = data.qrels_by_split[TRAIN_SPLIT]
    return replace(data, qrels_by_split={TRAIN_SPLIT: {q: qrels[q] for q in train_ids},
                                         HELD: {q: qrels[q] for q in held_ids}})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[DEFAULT_SETTINGS.steps])
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()
    settings = Settings.from_env()
    device = choose_device("auto")
    data = load_beir(SAMPLE_DATA)
    bi = load_bi_encoder(DEFAULT_BI_ENCODER, device, settings)
    first, second = halves(data)
    figures: dict[str, dict[str, float]] = {}
    for steps in args.steps:
        recipe = replace(DEFAULT_SETTINGS, steps=steps)
        per_fold, held_counts, seconds = [], [], 0.0
        for train_ids, held_ids in ((first, second), (second, first)):
            part = fold(data, train_ids, held_ids)
            base = RetrievalPipeline.build(part, bi, None, EmbeddingCache(settings.cache_dir / "embeddings"))
            labelled = labelled_groups(part, TRAIN_SPLIT, base, seed=0)
            titles = pseudo_query_groups(part, base, "title")
            repeat = max(1, round(len(titles) / max(len(labelled), 1)))
            groups = labelled + [g for seed in range(1, repeat)
                                 for g in labelled_groups(part, TRAIN_SPLIT, base, seed=seed)] + titles
            work = Path(tempfile.mkdtemp(prefix="explorer-cv-"))
            started = time.perf_counter()
            try:
                outcome = train(groups, recipe, device, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            seconds += time.perf_counter() - started
            info = ModelInfo("trained", "trained", "cross-validation", "", trained_for_relevance=True)
            reranked = base.with_reranker(LoadedModel(outcome.model, info, device))
            per_fold.append(held_out_ndcg(part, HELD, reranked, blends=(1.0, BLEND)))
            held_counts.append(len(held_ids))
        total = sum(held_counts)
        mean = {name: round(sum(f[name] * n for f, n in zip(per_fold, held_counts)) / total, 4)
                for name in per_fold[0]}
        figures[f"steps {steps}"] = {**mean, "training_seconds": round(seconds), "device": device.precision}
        print(json.dumps({f"steps {steps}": figures[f"steps {steps}"], "folds": per_fold}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
