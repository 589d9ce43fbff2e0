"""Which explanation does the reranker's score follow? Deletion curves of five word rankings on one pair, and their
means over the top result of every query of a labelled split (``python -m explorer explain``).

The methods rank the document's words (as the reranker's tokenizer splits them, in the part of the document it
reads): ``attention`` (the last layer's attention from the query, heads averaged), ``rollout`` (attention rollout over
every layer), ``integrated_gradients``, ``occlusion`` (the score drop without each run of a few words) and
``random`` (a seeded shuffle: the floor). Every curve is scored by the same scorer, the reranker as it ranks
(``explorer.rerank.scoring``). ``random`` is also compared with a second shuffle, so its "beats random" share shows
what chance alone gives (about a half).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from explorer.attention.model_pass import read_attention
from explorer.attention.rollout import ROLLOUT
from explorer.attention.words import WordWeight, document_words
from explorer.errors import ConfigError
from explorer.explain.deletion import DeletionCurve, deletion_curves, ranking
from explorer.explain.gradients import GradientExplainer
from explorer.explain.occlusion import Scorer, occlude
from explorer.explain.spans import Span, runs_of
from explorer.models.info import LoadedModel
from explorer.spec import OpenPipeline

METHODS = ("random", "attention", "rollout", "integrated_gradients", "occlusion")
SECOND_SHUFFLE = "random (second shuffle)"
OCCLUSION_RUNS = 60  # occlusion scores at most this many runs of words per pair


@dataclass(frozen=True)
class PairFaithfulness:
    """The deletion curves of every method on one (query, document) pair (None: the score does not move when every
    word is removed, so there is nothing to explain)."""

    query_id: str
    doc_id: str
    words: int
    curves: dict[str, DeletionCurve] | None
    completeness_gap: float | None  # integrated gradients' gap on this pair (None when it did not run)

    def follows(self) -> str | None:
        """The method with the lowest deletion AUC on this pair (the one its score follows), None without curves."""
        if not self.curves:
            return None
        shown = [m for m in METHODS if m in self.curves]
        return min(shown, key=lambda m: (self.curves[m].auc, METHODS.index(m)))  # type: ignore[index]


@dataclass(frozen=True)
class MethodSummary:
    """One method over many pairs: its mean deletion AUC and the share of pairs where it beats the random order."""

    deletion_auc: float
    beats_random: float


@dataclass(frozen=True)
class FaithfulnessSummary:
    """Every method's summary over the pairs with a curve, and how many pairs had none."""

    methods: dict[str, MethodSummary]
    queries: int  # pairs with curves
    flat: int  # pairs whose score did not move (left out)

    def to_json(self) -> dict[str, object]:
        """The shape ``explain --json`` writes."""
        return {"methods": {name: {"deletion_auc": s.deletion_auc, "beats_random": s.beats_random}
                            for name, s in self.methods.items()},
                "queries": self.queries, "flat_pairs_left_out": self.flat}


def explain_pair(reranker: LoadedModel, scorer: Scorer, query: str, document: str, *, query_id: str = "",
                 doc_id: str = "", gradients: GradientExplainer | None = None, seed: int = 0,
                 ig_steps: int = 32) -> PairFaithfulness:
    """Every method's ranking of the document's words and its deletion curve (see the module's docstring)."""
    record = read_attention(reranker, query, document)
    attention = _read_words(document_words(record, record.layers - 1))
    if not attention:
        raise ConfigError("The reranker read no word of this document; pick a document with text.")
    spans = [Span(w.start, w.end, document[w.start:w.end]) for w in attention]
    text = document[:spans[-1].end]  # the part the reranker reads: every method ranks its words
    weights = {"attention": [w.weight for w in attention],
               "rollout": _aligned(spans, _read_words(document_words(record, ROLLOUT)))}
    gap = None
    if gradients is not None:
        attributed = gradients.attribute(query, text, steps=ig_steps)
        weights["integrated_gradients"] = _aligned(spans, attributed.words)
        gap = attributed.completeness_gap
    size = max(1, math.ceil(len(spans) / OCCLUSION_RUNS))
    runs = runs_of(spans, size, text)
    occluded = occlude(scorer, query, text, runs, max_calls=OCCLUSION_RUNS + 1)
    weights["occlusion"] = [occluded.effects[i // size].drop for i in range(len(spans))]
    rng = np.random.default_rng(seed)
    rankings = {"random": list(map(int, rng.permutation(len(spans))))}
    rankings.update({method: ranking(values) for method, values in weights.items()})
    rankings[SECOND_SHUFFLE] = list(map(int, rng.permutation(len(spans))))
    curves = deletion_curves(scorer, query, text, spans, rankings)
    return PairFaithfulness(query_id, doc_id, len(spans), curves, gap)


def summarize(pairs: Sequence[PairFaithfulness]) -> FaithfulnessSummary:
    """Mean deletion AUC of each method and the share of pairs where its AUC is below the random order's (for
    ``random`` itself: below the second shuffle's)."""
    with_curves = [p for p in pairs if p.curves]
    if not with_curves:
        raise ConfigError("No pair had a score that moved when its words were removed; nothing to summarise.")
    methods = {}
    for method in METHODS:
        scored = [p.curves for p in with_curves if p.curves and method in p.curves]
        if not scored:
            continue
        against = SECOND_SHUFFLE if method == "random" else "random"
        methods[method] = MethodSummary(statistics.mean(c[method].auc for c in scored),
                                        sum(c[method].auc < c[against].auc for c in scored) / len(scored))
    return FaithfulnessSummary(methods, len(with_curves), len(pairs) - len(with_curves))


def _read_words(words: Sequence[WordWeight]) -> list[WordWeight]:
    """Words with characters (a word id with an empty span, e.g. a stray special piece, is left out)."""
    return [w for w in words if w.end > w.start]


def _aligned(spans: Sequence[Span], words: Sequence[WordWeight]) -> list[float]:
    """The weight of each span from ``words`` matched by start character (0 where a method has no such word)."""
    by_start = {w.start: w.weight for w in words}
    return [float(by_start.get(span.start, 0.0)) for span in spans]


def engine_scorer(reranker: LoadedModel) -> Scorer:
    """The reranker's raw scores as it ranks (its engine, no score cache: the texts are made up for the curves)."""
    from explorer.rerank.scoring import score_pairs

    def score(query: str, texts: Sequence[str]) -> np.ndarray:
        return score_pairs(reranker, query, list(texts), cache=None).raw

    return score


def explain_top_results(reranker: LoadedModel, queries: Sequence[tuple[str, str, str, str]], *,
                        gradients: GradientExplainer | None, seed: int = 0, ig_steps: int = 32,
                        progress: Callable[[int, int], None] | None = None) -> list[PairFaithfulness]:
    """``explain_pair`` for each (query id, query, document id, document text), with progress after each."""
    scorer = engine_scorer(reranker)
    pairs = []
    for number, (query_id, query, doc_id, text) in enumerate(queries, start=1):
        pairs.append(explain_pair(reranker, scorer, query, text, query_id=query_id, doc_id=doc_id,
                                  gradients=gradients, seed=seed + number, ig_steps=ig_steps))
        if progress is not None:
            progress(number, len(queries))
    return pairs


def report_explainer(opened: OpenPipeline) -> tuple[Scorer, Callable[[str], str]] | None:
    """The reranker's scorer and the documents' texts, for a report that explains its examples (None without a
    reranker): ``evaluation_report(..., explain_with=...)``."""
    if opened.reranker is None:
        return None
    dataset = opened.pipeline.dataset
    return engine_scorer(opened.reranker), lambda doc_id: dataset.document(doc_id).full_text
