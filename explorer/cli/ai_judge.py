"""``python -m explorer judgements ai``: an AI judge grades the labelled pairs of a split (or a sample of its
queries) through an OpenAI-compatible endpoint, its grades are stored as ``ai:MODEL``, and its agreement with the
people's labels is printed (weighted kappa with a bootstrap interval, the confusion matrix, the farthest
disagreements with the model's reasons)."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

from explorer.cli.output import emit, say
from explorer.errors import ConfigError
from explorer.judging.store import JudgementStore
from explorer.settings import Settings

DISAGREEMENTS_SHOWN = 10


def judge_with_ai(args: argparse.Namespace, settings: Settings, store: JudgementStore, key: str) -> int:
    """Plans, runs and reports the AI judge (see the module docstring); 0 when every pair was answered."""
    from explorer.judging import ai_judge
    from explorer.judging.ai_agreement import ai_agreement
    from explorer.judging.scale import scale_of
    from explorer.loading import load_beir
    from explorer.remote.answer_cache import FILE_NAME, AnswerCache
    from explorer.remote.chat import ChatEndpoint, open_chat

    dataset = load_beir(Path(args.data))
    split = args.split or ("test" if "test" in dataset.qrels_by_split else next(iter(dataset.qrels_by_split), ""))
    if split not in dataset.qrels_by_split:
        raise ConfigError(f"The data set has no split {split!r}; it has: {', '.join(dataset.qrels_by_split)}.")
    endpoint = ChatEndpoint.from_settings(settings, base_url=args.endpoint, model=args.model)
    changes: dict[str, object] = {}
    if args.key_variable:
        changes["key_variable"] = args.key_variable
    if args.concurrency:
        changes["concurrency"] = args.concurrency
    if args.price_in is not None or args.price_out is not None:
        changes.update(usd_per_million_input=args.price_in, usd_per_million_output=args.price_out)
    endpoint = replace(endpoint, **changes) if changes else endpoint
    secret = os.environ.get(endpoint.key_variable, "").strip() if args.key_variable else settings.llm_api_key

    scale = scale_of(store, key, dataset)
    instructions = _instructions(args.instructions)
    prompt = ai_judge.judge_prompt(scale, store.guidelines(key), *([instructions] if instructions else []))
    qrels = dataset.qrels_by_split[split]
    human = ai_judge.human_labels(qrels, store.judgements(key))
    chosen = ai_judge.sample_of_labelled({pair: grade for pair, grade in human.items() if pair[0] in qrels},
                                         args.sample)
    pairs = ai_judge.judge_pairs(chosen, dataset)
    cache = AnswerCache(settings.cache_dir / FILE_NAME)
    plan = ai_judge.plan(pairs, prompt, endpoint, cache)
    say(f"AI judge {endpoint.model} at {endpoint.base_url}, prompt {prompt.version}, split {split}, scale "
        f"{scale.name}. {plan.summary}")
    if args.plan:
        return 0
    client = open_chat(endpoint, secret)
    shown = [0.0]

    def progress(done: int, total: int, left: str) -> None:
        if done == total or time.monotonic() - shown[0] > 2.0:
            shown[0] = time.monotonic()
            say(f"graded {done} of {total} pairs, " + ("done" if done == total else left))

    try:
        result = ai_judge.run(pairs, client, prompt, store, key, cache, progress)
    finally:
        client.close()
    emit(result.summary)
    for (query_id, doc_id), answer in list(result.refused.items())[:5]:
        emit(f"  refused {query_id} / {doc_id}: {answer.refusal}")
    for (query_id, doc_id), answer in list(result.failed.items())[:5]:
        emit(f"  failed {query_id} / {doc_id}: {answer.failure}")
    stored = ai_judge.stored_grades(store, key, result.rater, prompt.version)
    agreement = ai_agreement(result.rater, {pair: stored[pair] for pair in chosen if pair in stored}, human,
                             scale.grades)
    emit(agreement.summary)
    if agreement.pairs:
        emit(_confusion_text(agreement.confusion, agreement.grades))
    for found in agreement.disagreements[:DISAGREEMENTS_SHOWN]:
        emit(f"  {found.query_id} / {found.doc_id}: people {found.human}, {result.rater} {found.ai}: {found.reason}")
    emit(f"Its grades do not count as labels until you choose so on the AI judge page (rater {result.rater}).")
    return 0 if not result.failed else 1


def _instructions(path: str | None) -> str:
    """The judge's instructions from the file ``path`` ("" for the default ones)."""
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the instructions file {path}: {exc}. Give a UTF-8 text file.") from None


def _confusion_text(confusion, grades: tuple[int, ...]) -> str:
    """The confusion matrix as a small text table: rows the people's grade, columns the AI judge's."""
    width = max(5, max(len(str(int(v))) for v in confusion.ravel()) + 1)
    lines = ["  people \\ AI " + "".join(f"{grade:>{width}}" for grade in grades)]
    for grade, row in zip(grades, confusion):
        lines.append(f"  {grade:>11} " + "".join(f"{int(value):>{width}}" for value in row))
    return "\n".join(lines)
