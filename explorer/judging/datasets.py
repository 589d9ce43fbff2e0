"""A data set as the decision pages read it: its own qrels merged with the judgements made here.

Judgements of a query that a split already labels join that split; every judged query (typed ones included)
also forms the split ``JUDGED_SPLIT``, so a typed query counts as a labelled query once its first grade is saved.
Judgements are kept per data set under ``dataset_key``: the data set's folder name.
"""

from __future__ import annotations

from pathlib import Path

from explorer.judging.labels import Rule, combined, merged
from explorer.judging.store import JudgementStore, is_ai_rater
from explorer.records import Dataset, Query

JUDGED_SPLIT = "judged here"


def dataset_key(path: str | Path) -> str:
    """The name judgements are kept under for the data set in folder ``path`` (its folder's name, so a saved data
    set and its copy elsewhere share their judgements)."""
    return Path(path).expanduser().resolve().name


def with_judgements(dataset: Dataset, store: JudgementStore, key: str, rule: Rule | None = None) -> Dataset:
    """``dataset`` with the judgements stored under ``key`` merged into its labels (see the module docstring),
    several raters' grades made one by ``rule`` (the data set's own rule when None); the same object when there
    are none."""
    judgements = store.judgements(key)
    if not judgements:
        return dataset
    # an AI judge's grades fill holes only: never in place of the data set's own labels (nor people's, see combined)
    judgements = [j for j in judgements if not is_ai_rater(j.rater) or j.doc_id not in dataset.labels_for(j.query_id)]
    judged = combined(judgements, rule or store.rule(key))
    queries = dict(dataset.queries)
    for query_id, text in store.queries(key).items():
        queries.setdefault(query_id, Query(query_id, text))
    judged = {query_id: labels for query_id, labels in judged.items() if query_id in queries}
    splits = {name: merged(qrels, {q: judged[q] for q in qrels if q in judged}).qrels
              for name, qrels in dataset.qrels_by_split.items()}
    splits[JUDGED_SPLIT] = merged({q: dataset.labels_for(q) for q in judged}, judged).qrels
    return Dataset(dataset.name, dataset.documents, queries, splits)


def label_version(store: JudgementStore, key: str, split: str) -> str:
    """What a snapshot records of the labels it was scored with: the split, the judgements' version and the rule."""
    return f"{split} labels + judgements v{store.version(key)} ({store.rule(key)} of raters)"
