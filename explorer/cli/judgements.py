"""``python -m explorer judgements export|import|agreement|import-queries|ai``: the Judge page's judgements from
the command line, and the AI judge."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.cli.output import emit, say
from explorer.errors import ConfigError
from explorer.settings import Settings


def judgements(args: argparse.Namespace) -> int:
    """Exports the judgements as TREC qrels, imports TREC qrels as one rater's, or reports agreement."""
    from explorer.judging.datasets import dataset_key
    from explorer.judging.store import JudgementStore

    settings = Settings.from_env()
    store = JudgementStore(settings.judgements_path)
    key = dataset_key(args.data)
    if args.action == "export":
        return _export(args, store, key)
    if args.action == "import":
        return _import(args, store, key)
    if args.action == "import-queries":
        return _import_queries(args, store, key)
    if args.action == "ai":
        from explorer.cli.ai_judge import judge_with_ai

        return judge_with_ai(args, settings, store, key)
    return _agreement(args, store, key)


def _export(args: argparse.Namespace, store, key: str) -> int:
    from explorer.judging.labels import combined
    from explorer.judging.qrels_io import qrels_text

    rule = args.rule or store.rule(key)
    text = qrels_text(combined(store.judgements(key), rule))
    if args.out in (None, "-"):
        emit(text, end="")
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        say(f"{text.count(chr(10))} labels ({rule} of {len(store.raters(key))} raters) written to {args.out}")
    return 0


def _import(args: argparse.Namespace, store, key: str) -> int:
    from explorer.judging.qrels_io import import_qrels
    from explorer.judging.scale import scale_of
    from explorer.loading import load_beir

    if not args.file:
        raise ConfigError("Name the qrels file to import: judgements import --file QRELS --rater NAME.")
    if not args.rater:
        raise ConfigError("Name the rater the imported grades belong to: --rater NAME.")
    dataset = load_beir(Path(args.data))
    known_queries = set(dataset.queries) | set(store.queries(key))
    # the data set's own grades (0-4 on Cranfield's 1-4), as the Judge page's import takes them
    report = import_qrels(Path(args.file).read_text(encoding="utf-8"), store, key, args.rater, known_queries,
                          {doc.doc_id for doc in dataset.documents}, scale_of(store, key, dataset).grades)
    say(report.summary)
    for problem in report.problems:
        say(f"  {problem}")
    return 0 if not report.problems else 1


def _import_queries(args: argparse.Namespace, store, key: str) -> int:
    from explorer.judging.query_sets import read_query_set

    if not args.file:
        raise ConfigError("Name the file of queries: judgements import-queries --file QUERIES.txt [--sample N].")
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Give a UTF-8 text or CSV file.") from None
    query_set = read_query_set(text, path.name, args.sample)
    store.add_queries(key, list(query_set.queries))
    say(query_set.summary + " They are listed on the Judge page under 'Queries to judge'.")
    for problem in query_set.skipped:
        say(f"  {problem}")
    return 0


def _agreement(args: argparse.Namespace, store, key: str) -> int:
    from explorer.judging.agreement import agreement
    from explorer.judging.scale import scale_of
    from explorer.loading import load_beir

    # weighted by the data set's own grades: a 4 on Cranfield is one step from a 3, not off the scale
    result = agreement(store.judgements(key), scale_of(store, key, load_beir(Path(args.data))).grades)
    emit(result.summary)
    for disagreement in result.disagreements[:20]:
        grades = ", ".join(f"{rater} {grade}" for rater, grade in disagreement.grades.items())
        emit(f"  {disagreement.query_id} / {disagreement.doc_id}: {grades}")
    return 0
