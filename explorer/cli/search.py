"""``index``, ``search`` and ``eval``: the pipeline opened from a spec, as the pages open it."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.cli.output import emit, say, show_progress, write_json
from explorer.errors import ConfigError
from explorer.records import Dataset
from explorer.retrieval.milvus_connection import MilvusSource
from explorer.settings import Settings
from explorer.spec import Blend, DirectParts, OpenPipeline, PipelineSpec, open_pipeline

if TYPE_CHECKING:
    from explorer.evaluation.runner import Evaluation


def spec_from(args: argparse.Namespace) -> PipelineSpec:
    """The pipeline the arguments name; ``index`` has no reranker, depth or blend of its own."""
    from explorer.rerank.cascade import CascadeSpec
    from explorer.rerank.windows import WindowOptions
    from explorer.retrieval.passages import PassageOptions
    from explorer.signals.config import parse_signals

    passages = PassageOptions(args.passages, args.passage_overlap) if args.passages else None
    reranker = getattr(args, "reranker", "none")
    milvus = MilvusSource(uri=args.milvus_uri, collection=args.collection, id_field=args.id_field,
                          text_field=args.text_field, title_field=args.title_field, vector_field=args.vector_field,
                          filter=args.filter)
    return PipelineSpec(
        dataset=args.data, first_stage_method=args.first_stage, bi_encoder=args.bi_encoder,
        reranker=None if reranker == "none" else reranker, device=args.device,
        trust_remote_code=args.trust_remote_code, passages=passages, depth=getattr(args, "depth", 100),
        blend=Blend.parse(getattr(args, "blend", "card")), milvus=milvus,
        cascade=CascadeSpec.parse(args.cascade) if getattr(args, "cascade", None) else None,
        window=WindowOptions.parse(args.window) if getattr(args, "window", None) else None,
        signals=parse_signals(args.signal) if getattr(args, "signal", None) else None)


def open_from(args: argparse.Namespace, settings: Settings) -> OpenPipeline:
    """The spec's pipeline, with what loaded said on stderr (device, models, index)."""
    from explorer.rerank.score_cache import persistent_score_cache

    spec = spec_from(args)
    opened = open_pipeline(spec, DirectParts(settings), persistent_score_cache(settings.cache_dir),
                           progress=show_progress)
    bi, reranker = opened.pipeline.bi_encoder, opened.reranker
    say(f"device: {bi.device.label} ({bi.device.reason})")
    say(f"bi-encoder: {bi.info.loaded} [{bi.info.source}]")
    if reranker is not None:
        say(f"reranker: {reranker.info.loaded} [{reranker.info.source}]" + (
            f", blended with the first stage at weight {opened.blend:g}" if opened.blend < 1 else ""))
        if not reranker.info.trained_for_relevance:
            say("warning: this reranker is not trained for relevance")
    if spec.signals is not None:
        from explorer.signals.config import signal_fields_missing

        missing = signal_fields_missing(spec.signals, opened.pipeline.dataset.documents)
        if missing:
            fields = sorted({key for doc in opened.pipeline.dataset.documents for key in doc.metadata})
            raise ConfigError(f"No document of {spec.dataset} has the field(s) {', '.join(missing)} that --signal "
                              f"names; its fields: {', '.join(fields) or 'none'}.")
        say(f"signals: {opened.pipeline.resolved_signals(spec.signals).describe()}")
    if opened.pipeline.cascade is not None:
        small, keep = opened.pipeline.cascade
        say(f"cascade: {small.info.loaded} [{small.info.source}] reads every candidate, the reranker its top {keep}")
    report = opened.pipeline.index_report
    say(f"index: {report.documents} documents" + (f" in {report.units} passages" if report.passages else "")
        + f", {'from cache' if report.from_cache else 'embedded'} in {report.seconds:.2f} s")
    say(f"first stage: {opened.pipeline.first_stage(spec.first_stage_method).description}")
    return opened


def index(args: argparse.Namespace) -> int:
    """Embeds and indexes the corpus (the embeddings stay in the cache for the app and later commands)."""
    open_from(args, Settings.from_env())
    return 0


def search(args: argparse.Namespace) -> int:
    """One query through both stages, printed as two ranked lists, or as JSON."""
    opened = open_from(args, Settings.from_env())
    result = opened.search(args.query)
    if result.query_cut:
        say(f"note: {result.query_cut}")
    if opened.reranker is not None and opened.reranker.engine.is_prepared:
        say(f"reranker engine: {opened.reranker.engine.info().label}")
    if args.json:
        emit(json.dumps(asdict(result), indent=1, default=str))
        return 0
    _print_result(result, opened.pipeline.dataset, args.top)
    return 0


def labelled_evaluation(args: argparse.Namespace, opened: OpenPipeline, settings: Settings, split: str,
                        use_cache: bool = True) -> tuple[Evaluation, str]:
    """``opened`` evaluated on ``split`` of the data set's labels with the judgements made on the Judge page (or
    imported) merged in, with progress on stderr; and the label version it was scored with."""
    from explorer.evaluation.runner import EvalConfig, evaluate
    from explorer.judging.datasets import dataset_key, label_version, with_judgements
    from explorer.judging.store import JudgementStore

    config = EvalConfig(split=split, first_stage_method=args.first_stage, depth=args.depth, blend=opened.blend,
                        rerank=opened.reranker is not None)

    from explorer.time_left import Pace

    pace = Pace("queries")

    def progress(done: int, total: int) -> None:
        # padded: a shorter estimate must not leave the end of a longer one on the line
        print(f"\revaluating {pace.status(done, total):<48}", end="" if done < total else "\n", file=sys.stderr,
              flush=True)

    judgements = JudgementStore(settings.judgements_path)
    labelled = with_judgements(opened.pipeline.dataset, judgements, dataset_key(args.data))
    result = evaluate(opened.pipeline.with_dataset(labelled), config,
                      cache_folder=settings.cache_dir / "evaluations" if use_cache else None, progress=progress)
    if opened.spec.signals is not None:
        from explorer.evaluation.signalled import with_signals

        result = with_signals(result, labelled, opened.spec.signals, opened.pipeline.document_vectors)
    return result, label_version(judgements, dataset_key(args.data), split)


def evaluate(args: argparse.Namespace) -> int:
    """Both stages scored on a labelled split: the metrics table, and the exports asked for."""
    from explorer.evaluation.html_report import evaluation_report
    from explorer.evaluation.run_files import escaped_ids, run_id, trec_run
    from explorer.explain.faithfulness import report_explainer
    from explorer.evaluation.tables import metrics_table, summary_json
    from explorer.judging.coverage import UNJUDGED_CHOICES, coverage
    from explorer.judging.datasets import dataset_key

    settings = Settings.from_env()
    opened = open_from(args, settings)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    for required in ("ndcg@10", "mrr@10", "recall@100"):
        if required not in metrics:
            metrics.append(required)
    result, version = labelled_evaluation(args, opened, settings, args.split, use_cache=not args.no_cache)
    result = result.counting(args.unjudged)
    summary = summary_json(result, metrics, args.relevant_grade)
    table = metrics_table([result], metrics, args.relevant_grade)
    # with the JSON on stdout (--json -), the table goes to stderr: stdout carries the JSON alone
    (say if args.json == "-" else emit)(table.to_string(index=False))
    covered = [coverage(stage, result.ranked(stage), result.qrels, 10) for stage in result.stages()]
    say("judged@10: " + ", ".join(f"{c.stage} {c.mean:.3f}" for c in covered) + f" ({UNJUDGED_CHOICES[args.unjudged]})")
    for line in remote_cost_lines(opened, settings, args.depth, len(result.query_texts)):
        say(line)
    if args.snapshot:
        from explorer.evaluation.snapshots import SnapshotStore

        SnapshotStore(settings.snapshots_path).save(args.snapshot, dataset_key(args.data), result, version,
                                                    replace=args.replace)
        say(f"saved as snapshot {args.snapshot!r} ({version})")
    if args.json:
        write_json(summary, args.json, "summary")
    if args.csv:
        table.to_csv(args.csv, index=False)
        say(f"metrics written to {args.csv}")
    if args.runs:
        folder = Path(args.runs)
        folder.mkdir(parents=True, exist_ok=True)
        for stage in result.stages():
            path = folder / f"{args.split}.{args.first_stage}.{stage}.trec"
            path.write_text(trec_run(result, stage), encoding="utf-8")
            say(f"TREC run written to {path}")
            escaped = escaped_ids(result, stage)
            if escaped:
                say(f"  {len(escaped)} id(s) hold white space or '%', written percent-encoded so each line keeps six "
                    f"fields (e.g. {escaped[0]!r} as {run_id(escaped[0])!r})")
    if args.report:
        Path(args.report).write_text(evaluation_report(result, metrics, relevant_grade=args.relevant_grade,
                                                       titles=opened.pipeline.dataset.title_of,
                                                       scale=opened.pipeline.dataset.grade_scale,
                                                       explain_with=report_explainer(opened)),
                                     encoding="utf-8")
        say(f"HTML report written to {args.report}")
    return 0


def remote_cost_lines(opened: OpenPipeline, settings: Settings, depth: int, queries: int) -> list[str]:
    """For a reranker behind an API: its price per 1,000 queries from the price table and, for an LLM reranker, the
    calls and tokens this run took (answers from the answer cache take none). Nothing for a local reranker."""
    from explorer.remote.llm_rerank import LLMRerankEngine
    from explorer.remote.names import is_remote_name
    from explorer.remote.prices import price_line, price_table

    reranker = opened.pipeline.reranker
    if reranker is None or not is_remote_name(reranker.info.requested):
        return []
    name = reranker.info.requested
    lines = [price_line(name, depth, price_table(settings))]
    engine = reranker.engine
    if isinstance(engine, LLMRerankEngine):
        usage = engine.client.usage
        lines.append(f"{name} took {usage.calls:,} call(s), {usage.input_tokens:,} input and {usage.output_tokens:,} "
                     f"output tokens for {queries} queries, {usage.seconds:.1f} s of requests (answers kept in the "
                     "answer cache are not asked again)")
    return lines


def _print_result(result, dataset: Dataset, top: int) -> None:
    emit(f"\nfirst stage (top {top} of {len(result.first_stage)}):")
    for hit in result.first_stage[:top]:
        emit(f"  {hit.rank:>3}  {hit.score:7.4f}  {hit.doc_id}  {dataset.document(hit.doc_id).title[:70]}")
    if result.reranked is not None:
        emit(f"\nreranked (top {top}):")
        for hit in result.reranked[:top]:
            emit(f"  {hit.rank:>3}  {hit.score:8.4f}  {hit.rank_change:+4d}  {hit.doc_id}  "
                  f"{dataset.document(hit.doc_id).title[:64]}")
    if result.signals is not None:
        emit(f"\nwith signals (top {top}; {result.signals.config.describe()}):")
        for hit in result.signals.hits[:top]:
            parts = ", ".join(f"{label} {value:.3f}" for label, value in hit.contributions.items())
            emit(f"  {hit.rank:>3}  {hit.total:6.3f}  {hit.moved:+4d}  {hit.doc_id}  ({parts})  "
                 f"{dataset.document(hit.doc_id).title[:48]}")
    t = result.timings
    if result.cascade is not None:
        c = result.cascade
        emit(f"\ncascade: {c.small_model} read {c.pairs_small} pairs in {c.small_ms:.1f} ms, the reranker "
             f"{c.pairs_main} in {c.main_ms:.1f} ms (below rank {c.pairs_main}: the small reranker's order and scores)")
    remote = result.reranker is not None and result.reranker.source == "remote"
    emit(f"\ntimes (ms): query encoding {t.query_encoding_ms:.1f}, first-stage search {t.first_stage_ms:.1f}, "
          f"{'reranking (remote, incl. network)' if remote else 'reranking'} {t.reranking_ms:.1f}, "
          f"total {t.total_ms:.1f}")
