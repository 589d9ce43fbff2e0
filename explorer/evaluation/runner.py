"""Evaluating both stages on a labelled split: every query through the pipeline, kept per query on disk.

An evaluation records, for each labelled query, the first-stage list, the reranked list with the reranker's
raw scores, and the time of each stage. Results are appended to a JSON-lines file as each query finishes,
keyed by everything that changes them (corpus, split, models, first stage, depth, blend), so an interrupted
run resumes where it stopped and a repeated one costs nothing. Timings are those measured when each query
first ran.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from explorer.errors import ConfigError
from explorer.evaluation.metrics import DEFAULT_METRICS, RankedLists, per_query_metrics
from explorer.judging.coverage import UNJUDGED_CHOICES, Unjudged, condensed
from explorer.pipeline import MAX_DEPTH, RetrievalPipeline
from explorer.rerank.scoring import order_by_score
from explorer.retrieval.first_stage import FirstStageMethod, check_first_stage_method
from explorer.retrieval.fusion import blend_scores

logger = logging.getLogger(__name__)
EvalProgress = Callable[[int, int], None]  # (queries done, queries in all)
# 2: outcomes are kept in the reranker's own order; the blend is applied when read. 3: keyed without the labels
CACHE_VERSION = 3


@dataclass(frozen=True)
class EvalConfig:
    """What an evaluation runs: the labelled split, first-stage method, candidate depth, blend and whether to rerank."""

    split: str
    first_stage_method: FirstStageMethod = "dense"
    depth: int = 100
    blend: float = 1.0  # the reranker's weight against the first stage (see explorer.retrieval.fusion)
    rerank: bool = True

    def __post_init__(self) -> None:
        check_first_stage_method(self.first_stage_method)
        if not 1 <= self.depth <= MAX_DEPTH:
            raise ConfigError(f"Candidate depth must be between 1 and {MAX_DEPTH}, got {self.depth}.")
        if not 0.0 <= self.blend <= 1.0:
            raise ConfigError(f"The blend weight must be between 0 and 1, got {self.blend}.")


@dataclass(frozen=True)
class QueryOutcome:
    """One labelled query's result: both ranked lists with their scores, and each stage's time in milliseconds."""

    query_id: str
    first_stage: tuple[str, ...]
    first_stage_scores: tuple[float, ...]
    reranked: tuple[str, ...] | None  # final order (blend applied), None when no reranker ran
    reranker_scores: tuple[float, ...] | None  # raw scores, aligned with ``reranked``
    probabilities: tuple[float, ...] | None  # sigmoid of one logit, for trained single-logit rerankers
    query_encoding_ms: float
    first_stage_ms: float
    rerank_ms: float
    # pairs the score cache answered, of the pairs scored: where any did, ``rerank_ms`` is partly the cache's time
    # (0 and 0 in outcomes kept before this was recorded, which scored every pair afresh)
    rerank_from_cache: int = 0
    rerank_pairs: int = 0

    def to_json(self) -> str:
        """The outcome as one line of JSON, the form kept in the evaluation's cache file."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> "QueryOutcome":
        """The outcome read back from a ``to_json`` line; a damaged line raises ValueError or TypeError."""
        raw = json.loads(line)
        for name in ("first_stage", "first_stage_scores", "reranked", "reranker_scores", "probabilities"):
            if raw.get(name) is not None:
                raw[name] = tuple(raw[name])
        return cls(**raw)


@dataclass(frozen=True)
class Evaluation:
    """One configuration evaluated on one split: every query's outcome, with the labels and texts of the queries."""

    name: str  # e.g. "dense → default offline reranker"
    config: EvalConfig
    bi_encoder: str
    reranker: str | None
    outcomes: tuple[QueryOutcome, ...]
    qrels: dict[str, dict[str, int]]  # of the split
    query_texts: dict[str, str]
    # the reranker's name as asked for, where another model stood in for it (None: the one asked for ran)
    reranker_requested: str | None = None
    # how documents without a label count in the metrics: "not relevant" (trec_eval) or "removed" (condensed)
    unjudged: Unjudged = "not relevant"
    # with a cascade: the small reranker and how many of its best the reranker read, e.g. "small-reranker → top 20";
    # its outcomes are kept in the blended order it ranked by (None: the reranker read every candidate)
    cascade: str | None = None
    # the signals that reordered its final lists, described (None: relevance alone; see explorer.evaluation.signalled)
    signals: str | None = None
    # how its reranking times were estimated rather than measured, said for the page (None: measured; see
    # explorer.evaluation.cascade_variants, whose lists come from another evaluation's scores)
    estimated: str | None = None
    # per-query metric values already computed: the page, its tables and the report ask for the same ones
    _computed: dict[tuple[str, str, int], dict[str, float]] = field(default_factory=dict, init=False, repr=False,
                                                                    compare=False)

    @property
    def has_reranker(self) -> bool:
        """Whether the reranker ran (False for an evaluation with no queries)."""
        return bool(self.outcomes) and self.outcomes[0].reranked is not None

    def ranked(self, stage: str) -> RankedLists:
        """Query id -> document ids for "first_stage" or "reranked"."""
        if stage == "first_stage":
            return {o.query_id: list(o.first_stage) for o in self.outcomes}
        if stage == "reranked":
            if not self.has_reranker:
                raise ConfigError("This evaluation ran without a reranker; there is no reranked list.")
            return {o.query_id: list(o.reranked or ()) for o in self.outcomes}
        raise ConfigError(f"Unknown stage {stage!r}; use 'first_stage' or 'reranked'.")

    def scored(self, stage: str) -> RankedLists:
        """The lists the metrics score: ``ranked(stage)``, without the unjudged documents when they are "removed"."""
        lists = self.ranked(stage)
        if self.unjudged == "removed":
            return {query_id: condensed(ranked, self.qrels.get(query_id, {})) for query_id, ranked in lists.items()}
        return lists

    def counting(self, unjudged: Unjudged) -> Evaluation:
        """This evaluation with unjudged documents counted as ``unjudged`` (the same object when they already are)."""
        if unjudged not in UNJUDGED_CHOICES:
            raise ConfigError(f"Unknown choice {unjudged!r} for unjudged documents; use one of: "
                              + ", ".join(UNJUDGED_CHOICES) + ".")
        return self if unjudged == self.unjudged else replace(self, unjudged=unjudged)

    def subset(self, query_ids: Sequence[str], split: str) -> Evaluation:
        """This evaluation on some of its queries only, named as the split ``split`` (a part of a split)."""
        wanted = set(query_ids)
        missing = wanted - {o.query_id for o in self.outcomes}
        if missing:
            raise ConfigError(f"{len(missing)} of the queries asked for are not in this evaluation (e.g. "
                              f"{sorted(missing)[0]!r}); take a subset of the queries it evaluated.")
        return replace(self, config=replace(self.config, split=split),
                       outcomes=tuple(o for o in self.outcomes if o.query_id in wanted),
                       qrels={q: labels for q, labels in self.qrels.items() if q in wanted},
                       query_texts={q: text for q, text in self.query_texts.items() if q in wanted})

    def stages(self) -> list[str]:
        """The stages that ran, in order: "first_stage", then "reranked" when a reranker ran."""
        return ["first_stage", "reranked"] if self.has_reranker else ["first_stage"]

    def metrics(self, names: Sequence[str] = DEFAULT_METRICS, relevant_grade: int = 1) -> dict[str, dict[str, float]]:
        """{stage: {metric: mean over the queries}} for each stage that ran."""
        means: dict[str, dict[str, float]] = {}
        for stage in self.stages():
            values = {name.strip().lower(): self.stage_values(stage, name, relevant_grade) for name in names}
            means[stage] = {name: sum(per_query.values()) / len(per_query) for name, per_query in values.items()}
        return means

    def per_query(self, metric: str, relevant_grade: int = 1) -> dict[str, dict[str, float]]:
        """{stage: {query id: value}}; each (stage, metric, grade) is computed once per evaluation."""
        return {stage: self.stage_values(stage, metric, relevant_grade) for stage in self.stages()}

    def stage_values(self, stage: str, metric: str, relevant_grade: int = 1) -> dict[str, float]:
        """{query id: value} of one stage, computed once per evaluation (as ``per_query``)."""
        key = (stage, metric.strip().lower(), relevant_grade)
        if key not in self._computed:
            self._computed[key] = per_query_metrics(self.qrels, self.scored(stage), [key[1]], relevant_grade)[key[1]]
        return self._computed[key]

    def latency_ms(self) -> dict[str, float]:
        """Median per query of each stage, in milliseconds; reranking's over the queries whose pairs were all scored
        by the model (``fresh_reranks``), where there are any, since a pair the score cache answers costs no model
        time."""
        if not self.outcomes:
            return {"query_encoding": 0.0, "first_stage": 0.0, "rerank": 0.0}
        fresh = self.fresh_reranks() or list(self.outcomes)
        return {
            "query_encoding": statistics.median(o.query_encoding_ms for o in self.outcomes),
            "first_stage": statistics.median(o.first_stage_ms for o in self.outcomes),
            "rerank": statistics.median(o.rerank_ms for o in fresh),
        }

    def fresh_reranks(self) -> list[QueryOutcome]:
        """The outcomes whose reranker scored every pair itself (none came from the score cache)."""
        return [o for o in self.outcomes if o.reranked is not None and o.rerank_from_cache == 0]

    @property
    def rerank_timing_note(self) -> str:
        """Where the reranking time comes from, when the score cache answered some queries' pairs ("" otherwise)."""
        reranked = [o for o in self.outcomes if o.reranked is not None]
        fresh = self.fresh_reranks()
        if not reranked or len(fresh) == len(reranked):
            return ""
        if fresh:
            return (f"Reranking time is the median of the {len(fresh)} of {len(reranked)} queries whose pairs the "
                    "reranker scored itself; the others' pairs were scored before (the score cache answered them).")
        answered = sum(o.rerank_from_cache for o in reranked)
        return (f"Every query's pairs were scored before ({answered:,} answered by the score cache), so the reranking "
                "time shown is the cache's, not the model's; the depth sweep and `python -m explorer bench` time "
                "the model.")


def evaluation_key(pipeline: RetrievalPipeline, config: EvalConfig) -> str:
    """Changes with the corpus, the queries of the split, the models and the configuration. Not with the labels:
    outcomes are rankings and scores, and metrics are computed from the labels when read, so a new judgement
    costs no model call."""
    digest = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    dataset = pipeline.dataset
    for doc in dataset.documents:
        digest.update(f"\x00{doc.doc_id}\x01{doc.full_text}".encode("utf-8", errors="replace"))
    for query_id in sorted(dataset.qrels_by_split.get(config.split, {})):
        query = dataset.queries.get(query_id)
        digest.update(f"\x02{query_id}\x01{query.text if query else ''}".encode())
    reranker = pipeline.reranker.info.fingerprint or pipeline.reranker.info.loaded if pipeline.reranker else "none"
    passages = pipeline.index_report.passages.key if pipeline.index_report.passages else ""
    # The blend is left out: outcomes are kept unblended and blended when read, so another blend costs no model call.
    # the index's description names an attached collection (whose documents are not listed in the data set)
    # a cascade reranks with two models: the small one and how many of its best the reranker reads
    cascade = [pipeline.cascade[0].info.fingerprint or pipeline.cascade[0].info.loaded, pipeline.cascade[1]] \
        if pipeline.cascade is not None and config.rerank else None
    # The blend is kept for a cascade: its order below the cut is the small reranker's, so it cannot be re-blended
    digest.update(json.dumps([asdict(config if cascade else replace(config, blend=1.0)), pipeline.bi_encoder.info.fingerprint or pipeline.bi_encoder.info.loaded,
                              reranker if config.rerank else "none", passages,
                              pipeline.index_report.index_description, *([cascade] if cascade else []),
                              *([pipeline.window.key] if pipeline.window is not None and config.rerank else [])]).encode())
    return digest.hexdigest()[:32]


def evaluate(pipeline: RetrievalPipeline, config: EvalConfig, cache_folder: Path | None = None,
             progress: EvalProgress | None = None, should_stop: Callable[[], bool] | None = None,
             name: str | None = None) -> Evaluation:
    """Run (or resume) the evaluation of ``config.split``. Stops early, keeping what is done, if ``should_stop``."""
    dataset = pipeline.dataset
    if config.split not in dataset.qrels_by_split:
        raise ConfigError(f"No labelled split {config.split!r}; this data set has: "
                          f"{', '.join(dataset.splits) or 'no labels (load a qrels file)'}.")
    if config.rerank and pipeline.reranker is None:
        raise ConfigError("Reranking was asked for but no reranker is loaded; choose one, or evaluate without.")
    queries = dataset.labelled_queries(config.split)
    if not queries:
        raise ConfigError(f"The split {config.split!r} has labels but none of their query ids is in the queries file.")
    if config.rerank and pipeline.reranker is not None:
        pipeline.reranker.engine.settled()  # an int8 graph being made is waited for: every query runs the same way
    cache_file = cache_folder / f"{evaluation_key(pipeline, config)}.jsonl" if cache_folder else None
    done = _read_cached(cache_file)
    # with the score cache: a pair scored before (on Search, in another configuration, in an earlier evaluation) is
    # not scored again; each outcome records how many pairs the cache answered, so its time is read for what it is
    timed = pipeline
    cascaded = pipeline.cascade is not None and config.rerank
    outcomes: list[QueryOutcome] = []
    for position, query in enumerate(queries, start=1):
        outcome = done.get(query.query_id)
        if outcome is None:
            if should_stop is not None and should_stop():
                break
            outcome = _run_query(timed, query.query_id, query.text, config, config.blend if cascaded else 1.0)
            _append(cache_file, outcome)
        outcomes.append(outcome)
        if progress is not None:
            progress(position, len(queries))
    if config.rerank and config.blend < 1.0 and not cascaded:
        outcomes = [_blended(outcome, config.blend) for outcome in outcomes]
    bi_name = pipeline.bi_encoder.info.loaded
    ran = pipeline.reranker.info if config.rerank and pipeline.reranker else None
    label = name or f"{config.first_stage_method}" + (f" → {ran.display_name}" if ran else " only")
    asked = ran.requested if ran and ran.display_name != ran.loaded else None
    cascade = f"{pipeline.cascade[0].info.display_name} → top {pipeline.cascade[1]}" if cascaded and pipeline.cascade \
        else None
    if cascade:
        label += f" (cascade: {cascade})"
    if ran and pipeline.window is not None:
        label += f" (reads {pipeline.window.max_tokens}-token windows)"
    return Evaluation(label, config, bi_name, ran.loaded if ran else None, tuple(outcomes),
                      {q: dict(v) for q, v in dataset.qrels_by_split[config.split].items()},
                      {q.query_id: q.text for q in queries}, reranker_requested=asked, cascade=cascade)


def _run_query(pipeline: RetrievalPipeline, query_id: str, text: str, config: EvalConfig,
               blend: float = 1.0) -> QueryOutcome:
    """One query through both stages, the reranked list in the reranker's own order (the blend comes later), or,
    for a cascade, in ``blend``'s."""
    result = pipeline.search(text, depth=config.depth, rerank=config.rerank, blend=blend,
                             first_stage_method=config.first_stage_method)
    reranked = result.reranked
    has_probability = bool(reranked) and reranked[0].probability is not None
    return QueryOutcome(
        query_id=query_id,
        first_stage=tuple(h.doc_id for h in result.first_stage),
        first_stage_scores=tuple(h.score for h in result.first_stage),
        reranked=tuple(h.doc_id for h in reranked) if reranked is not None else None,
        reranker_scores=tuple(h.score for h in reranked) if reranked is not None else None,
        probabilities=tuple(float(h.probability or 0.0) for h in reranked) if has_probability and reranked else None,
        query_encoding_ms=result.timings.query_encoding_ms,
        first_stage_ms=result.timings.first_stage_ms,
        rerank_ms=result.timings.reranking_ms,
        rerank_from_cache=result.rerank_from_cache,
        rerank_pairs=result.rerank_pairs,
    )


def _blended(outcome: QueryOutcome, blend: float) -> QueryOutcome:
    """The outcome with its reranked list in the blend's order (scores and probabilities follow their documents),
    exactly as the pipeline orders a blended search."""
    order = rerank_at_depth(outcome, len(outcome.first_stage), blend)
    position = {doc_id: index for index, doc_id in enumerate(outcome.reranked or ())}

    def follow(values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        return tuple(values[position[doc_id]] for doc_id in order) if values is not None else None

    return replace(outcome, reranked=tuple(order), reranker_scores=follow(outcome.reranker_scores),
                   probabilities=follow(outcome.probabilities))


def _read_cached(cache_file: Path | None) -> dict[str, QueryOutcome]:
    """Outcomes already on disk; a torn last line (a run killed mid-write) is skipped, not fatal."""
    if cache_file is None or not cache_file.exists():
        return {}
    done: dict[str, QueryOutcome] = {}
    for number, line in enumerate(cache_file.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            outcome = QueryOutcome.from_json(line)
        except (ValueError, TypeError) as exc:
            logger.warning("skipping line %d of %s: %s", number, cache_file, exc)
            continue
        done[outcome.query_id] = outcome
    return done


def _append(cache_file: Path | None, outcome: QueryOutcome) -> None:
    if cache_file is None:
        return
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    with cache_file.open("a", encoding="utf-8") as handle:
        handle.write(outcome.to_json() + "\n")


def rerank_at_depth(outcome: QueryOutcome, depth: int, blend: float = 1.0) -> list[str]:
    """The reranked order had only the first ``depth`` candidates been reranked.

    A cross-encoder scores each pair on its own, so the scores at a smaller depth are a subset of those at the
    larger one; only the blend's per-query normalisation is recomputed over the smaller set."""
    if outcome.reranked is None or outcome.reranker_scores is None:
        raise ConfigError("This evaluation ran without a reranker.")
    raw = dict(zip(outcome.reranked, outcome.reranker_scores))
    candidates = list(outcome.first_stage[:depth])
    scores = [raw[d] for d in candidates]
    if blend < 1.0:
        scores = blend_scores(scores, list(outcome.first_stage_scores[:depth]), blend)
    return [candidates[i] for i in order_by_score(scores)]
