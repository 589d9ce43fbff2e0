"""Training groups for a reranker: one query, one positive text, and hard negatives mined by the bi-encoder.

Three sources:
- labelled relevance: a query's best-graded documents are positives; its documents labelled 0-1 (the
  near-misses) and the bi-encoder's top candidates without a good label are negatives;
- no labels: pseudo-queries made from the corpus itself, a document's title, or one sentence taken out of
  its text (the rest of the text is the positive);
- a teacher reranker's scores, for distillation (see ``teacher_scores``): every pair of the groups above,
  scored by a stronger cross-encoder, for a student to imitate.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from explorer.errors import ConfigError
from explorer.models.info import LoadedModel
from explorer.pipeline import RetrievalPipeline
from explorer.records import Dataset, Document

PseudoKind = Literal["title", "sentence"]
MINE_DEPTH = 30


@dataclass(frozen=True)
class TrainGroup:
    """One training example: a query, its positive text and its hard negative texts, and where it came from."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    source: str  # "labels", "title" or "sentence"
    # Relevance of each negative on the positive's scale (positive = 1.0; 0.0 = not relevant). Labelled
    # near-misses keep their partial grade, so a graded loss can rank them above unrelated text.
    negative_relevance: tuple[float, ...] = ()

    def relevance(self) -> tuple[float, ...]:
        """1.0 for the positive, then one value per negative (0.0 where no grade is known)."""
        known = self.negative_relevance or ()
        return (1.0, *[known[i] if i < len(known) else 0.0 for i in range(len(self.negatives))])


@dataclass(frozen=True)
class ScoredPair:
    """A (query, document text) pair with the teacher's raw score: a target for distillation."""

    query: str
    document: str
    score: float  # the teacher's raw score


def teacher_scores(groups: Sequence[TrainGroup], teacher: LoadedModel,
                   progress: Callable[[int, int], None] | None = None) -> list[ScoredPair]:
    """The teacher's score for every (query, text) pair of the groups: positives and hard negatives alike."""
    from explorer.rerank.scoring import score_pairs

    pairs: list[ScoredPair] = []
    for done, group in enumerate(groups, start=1):
        texts = [group.positive, *group.negatives]
        scores = score_pairs(teacher, group.query, texts).raw
        pairs += [ScoredPair(group.query, text, float(score)) for text, score in zip(texts, scores)]
        if progress is not None:
            progress(done, len(groups))
    return pairs


def labelled_groups(dataset: Dataset, split: str, pipeline: RetrievalPipeline, negatives: int = 7,
                    positive_grade: int = 2, seed: int = 0) -> list[TrainGroup]:
    """A group per (query, positive) of one split; labelled near-misses first among the negatives."""
    rng = random.Random(seed)
    groups = []
    qrels = dataset.qrels_by_split.get(split, {})
    for query_id, labels in qrels.items():
        query = dataset.queries.get(query_id)
        if query is None:
            continue
        top = max(positive_grade, max(labels.values()))
        positives = [d for d, grade in labels.items() if grade >= top]
        near = [d for d, grade in labels.items() if grade < positive_grade]
        mined = [h.doc_id for h in pipeline.search(query.text, MINE_DEPTH, rerank=False).first_stage
                 if labels.get(h.doc_id, 0) < positive_grade and h.doc_id not in near]
        chosen = _pick(near, mined, negatives, rng)
        if not chosen:
            continue
        relevance = tuple(labels.get(d, 0) / top for d in chosen)
        for positive in positives:
            groups.append(TrainGroup(query.text, dataset.document(positive).full_text,
                                     tuple(dataset.document(d).full_text for d in chosen), "labels", relevance))
    return groups


def pseudo_query_groups(dataset: Dataset, pipeline: RetrievalPipeline, kind: PseudoKind, limit: int | None = None,
                        negatives: int = 7, seed: int = 0) -> list[TrainGroup]:
    """Label-free groups from the corpus: the query is a title or a sentence taken out of the document."""
    rng = random.Random(seed)
    documents = list(dataset.documents)
    rng.shuffle(documents)
    groups = []
    for doc in documents:
        made = _pseudo_query(doc, kind, rng)
        if made is None:
            continue
        query, positive = made
        mined = [h.doc_id for h in pipeline.search(query, MINE_DEPTH, rerank=False).first_stage if h.doc_id != doc.doc_id]
        chosen = _pick([], mined, negatives, rng)
        groups.append(TrainGroup(query, positive, tuple(dataset.document(d).full_text for d in chosen), kind))
        if limit is not None and len(groups) >= limit:
            break
    return groups


def _pseudo_query(doc: Document, kind: PseudoKind, rng: random.Random) -> tuple[str, str] | None:
    if kind == "title":
        return (doc.title, doc.text) if doc.title.strip() and doc.text.strip() else None
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", doc.text) if len(s.split()) >= 6]
    if len(sentences) < 3:
        return None
    taken = rng.choice(sentences)
    rest = doc.text.replace(taken, " ").strip()
    return taken, (f"{doc.title}. {rest}" if doc.title else rest)


def _pick(preferred: Sequence[str], mined: Sequence[str], count: int, rng: random.Random) -> list[str]:
    """Up to ``count`` negatives: some preferred (labelled near-misses), the rest from the mined list."""
    first = rng.sample(list(preferred), min(len(preferred), max(count // 2, count - len(mined))))
    pool = [d for d in mined if d not in first][: count * 3]  # among the hardest, not always the same ones
    return first + rng.sample(pool, min(len(pool), count - len(first)))


def carve_split(dataset: Dataset, split: str, share: float, held_out_name: str | None = None,
                seed: int = 0) -> Dataset:
    """The data set with ``split``'s queries cut in two: ``<split>-fit`` and a held-out part (``share`` of them)."""
    if not 0.0 < share < 1.0:
        raise ConfigError(f"The held-out share must be between 0 and 1, got {share}.")
    if split not in dataset.qrels_by_split:
        raise ConfigError(f"No labelled split {split!r}; this data set has: {', '.join(dataset.splits) or 'none'}.")
    qrels = dict(dataset.qrels_by_split)
    queries = sorted(qrels[split])
    random.Random(seed).shuffle(queries)
    cut = max(1, round(len(queries) * share))
    qrels[held_out_name or f"{split}-held-out"] = {q: qrels[split][q] for q in queries[:cut]}
    qrels[f"{split}-fit"] = {q: qrels[split][q] for q in queries[cut:]}
    return Dataset(dataset.name, dataset.documents, dataset.queries, qrels)
