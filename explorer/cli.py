"""Command line: the same engine as the pages, for batch work. `python -m explorer --help`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Sequence

from explorer.errors import ConfigError, ExplorerError
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, SAMPLE_DATA, Settings

if TYPE_CHECKING:
    from explorer.device import DeviceChoice

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="Two-stage retrieval explorer")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data", default=str(SAMPLE_DATA), help="BEIR folder (default: the sample data)")
        sub.add_argument("--bi-encoder", default="default", help="hub id or folder; 'default' = the app's choice")
        sub.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
        sub.add_argument("--trust-remote-code", action="store_true", help="allow the models' own code to run")

    load = commands.add_parser("load", help="read and check a corpus in any supported format; print the report")
    load.add_argument("--kind", required=True, choices=["beir", "table", "text_folder", "text_zip", "lines",
                                                        "ir_datasets"])
    load.add_argument("source", help="folder, file, or ir_datasets id")
    load.add_argument("--format", choices=["jsonl", "csv", "tsv", "parquet"], help="table format (default: by suffix)")
    load.add_argument("--id-column")
    load.add_argument("--title-column")
    load.add_argument("--text-column", help="with a table: the text column (default: guessed)")
    load.add_argument("--queries", help="queries file (JSONL, TSV or CSV)")
    load.add_argument("--labels", help="labels file (TREC qrels or BEIR TSV)")
    load.add_argument("--split", default="test", help="split name for --labels")
    load.add_argument("--save", action="store_true", help="save it for the app (in the cache folder)")
    load.add_argument("--json", action="store_true", help="print the report as JSON")

    build = commands.add_parser("build-default-reranker",
                                help="train the default offline reranker on the sample data (a few minutes)")
    build.add_argument("--if-needed", action="store_true",
                       help="only when it is missing and the hub (with pretrained cross-encoders) is out of reach")
    build.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    build.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])

    trainer = commands.add_parser("train", help="fine-tune a reranker and report held-out nDCG@10 before and after")
    common(trainer)
    trainer.add_argument("--split", default="train", help="labelled split to train on")
    trainer.add_argument("--held-out", default="test", help="labelled split to measure on (never trained on)")
    trainer.add_argument("--held-out-share", type=float, default=None,
                         help="with one labelled split: hold out this share of its queries (e.g. 0.33)")
    trainer.add_argument("--no-labels", action="store_true", help="train on pseudo-queries only")
    trainer.add_argument("--pseudo", choices=["none", "title", "sentence"], default="none",
                         help="add pseudo-queries made from the corpus (needed with --no-labels)")
    trainer.add_argument("--pseudo-limit", type=int, default=None, help="at most this many pseudo-queries")
    trainer.add_argument("--base", default="packaged", help="encoder to start from: 'packaged', a folder or hub id")
    trainer.add_argument("--head", choices=["joint-cosine", "classifier"], default="joint-cosine")
    trainer.add_argument("--loss", choices=["listwise", "graded-listwise", "pointwise"], default="listwise",
                         help="graded-listwise (ListNet) keeps labelled near-misses above unrelated text")
    trainer.add_argument("--teacher", help="distil this trained reranker (hub id, folder or 'default'); "
                                           "implies --loss distill")
    trainer.add_argument("--student-layers", type=int, default=None,
                         help="a smaller student: keep only this many lower layers of the base encoder")
    trainer.add_argument("--frozen-layers", type=int, default=0,
                         help="freeze the embeddings and this many lower layers (faster, less forgetting)")
    trainer.add_argument("--steps", type=int, default=200)
    trainer.add_argument("--lr", type=float, default=5e-5)
    trainer.add_argument("--max-length", type=int, default=256)
    trainer.add_argument("--depth", type=int, default=100, help="candidates per held-out query")
    trainer.add_argument("--out", required=True, help="folder to save the trained model in")

    index = commands.add_parser("index", help="embed and index a corpus (fills the embedding cache)")
    common(index)
    search = commands.add_parser("search", help="run one query through both stages")
    common(search)
    search.add_argument("query")
    search.add_argument("--reranker", default="default", help="hub id, folder, 'default' or 'none'")
    search.add_argument("--depth", type=int, default=100, help="first-stage candidates (k)")
    search.add_argument("--top", type=int, default=10, help="results printed per stage")
    search.add_argument("--json", action="store_true", help="print the result as JSON")
    search.add_argument("--first-stage", choices=["dense", "bm25", "hybrid"], default="dense")

    evaluation = commands.add_parser("eval", help="score both stages on a labelled split (metrics, latency, exports)")
    common(evaluation)
    evaluation.add_argument("--split", default="test", help="labelled split to evaluate (default: test)")
    evaluation.add_argument("--first-stage", choices=["dense", "bm25", "hybrid"], default="dense")
    evaluation.add_argument("--reranker", default="default", help="hub id, folder, 'default' or 'none'")
    evaluation.add_argument("--depth", type=int, default=100, help="first-stage candidates per query (k)")
    evaluation.add_argument("--blend", default="card",
                            help="reranker weight against the first stage, 0-1; 'card' = the reranker's recommended")
    evaluation.add_argument("--metrics", default="ndcg@10,mrr@10,recall@100,precision@10,map@100")
    evaluation.add_argument("--relevant-grade", type=int, default=1, help="lowest grade counted relevant (binary metrics)")
    evaluation.add_argument("--json", metavar="OUT", help="write the summary as JSON to this file ('-' = stdout)")
    evaluation.add_argument("--runs", metavar="DIR", help="write TREC run files of each stage into this folder")
    evaluation.add_argument("--csv", metavar="OUT", help="write the metrics table as CSV")
    evaluation.add_argument("--report", metavar="OUT", help="write a self-contained HTML report")
    evaluation.add_argument("--no-cache", action="store_true", help="rerun every query (ignore saved results)")

    bench = commands.add_parser("bench", help="time the fast rerank and embedding engine against the naive baseline")
    bench.add_argument("--json", metavar="OUT", help="write the results as JSON to this file ('-' = stdout)")
    bench.add_argument("--quick", action="store_true", help="small sizes (for CI): same code paths, seconds not minutes")
    bench.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    bench.add_argument("--data", default=str(SAMPLE_DATA), help="BEIR folder of real text (default: the sample data)")
    bench.add_argument("--cranfield", default=None,
                       help="a second BEIR folder of real text (default: ../shared/data/cranfield when present)")
    bench.add_argument("--depth", type=int, default=None, help="candidates per query (default 100; 16 with --quick)")
    bench.add_argument("--corpus-size", type=int, default=None,
                       help="passages of the end-to-end corpus (default 10000; 300 with --quick)")
    bench.add_argument("--repeats", type=int, default=None, help="timed runs of each measurement (default 3)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except ExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "load":
        return _load(args)
    if args.command == "build-default-reranker":
        return _build_default(args)
    if args.command == "train":
        return _train(args)
    if args.command == "bench":
        return _bench(args)
    dataset, pipeline, settings = _pipeline(args)
    if args.command == "index":
        return 0
    if args.command == "eval":
        return _evaluate(args, pipeline, settings)
    result = pipeline.search(args.query, depth=args.depth, first_stage=args.first_stage)
    if args.json:
        print(json.dumps(asdict(result), indent=1, default=str))
        return 0
    _print_result(result, dataset, args.top)
    return 0


def _pipeline(args: argparse.Namespace):
    """The data set and a built pipeline with the models the command line names (``default`` = the app's)."""
    from explorer.loading import load_beir
    from explorer.device import choose_device
    from explorer.embedding_cache import EmbeddingCache
    from explorer.models import load_bi_encoder, load_reranker
    from explorer.pipeline import RetrievalPipeline

    settings = Settings.from_env()
    device = choose_device(args.device)
    dataset = load_beir(args.data)
    bi_name = DEFAULT_BI_ENCODER if args.bi_encoder == "default" else args.bi_encoder
    bi = load_bi_encoder(bi_name, device, settings, trust_remote_code=args.trust_remote_code)
    reranker = None
    if getattr(args, "reranker", "none") != "none":
        name = DEFAULT_RERANKER if args.reranker == "default" else args.reranker
        reranker = load_reranker(name, device, settings, trust_remote_code=args.trust_remote_code)
    print(f"device: {device.label} ({device.reason})", file=sys.stderr)
    print(f"bi-encoder: {bi.info.loaded} [{bi.info.source}]", file=sys.stderr)
    if reranker is not None:
        print(f"reranker: {reranker.info.loaded} [{reranker.info.source}]", file=sys.stderr)
        if not reranker.info.trained_for_relevance:
            print("warning: this reranker is not trained for relevance", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        print(f"\rembedding {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    pipeline = RetrievalPipeline.build(dataset, bi, reranker, EmbeddingCache(settings.cache_dir / "embeddings"),
                                       progress=progress)
    report = pipeline.index_report
    print(f"index: {report.documents} documents, {'from cache' if report.from_cache else 'embedded'} "
          f"in {report.seconds:.2f} s", file=sys.stderr)
    return dataset, pipeline, settings


def _evaluate(args: argparse.Namespace, pipeline, settings: Settings) -> int:
    from pathlib import Path

    from explorer.evaluation import EvalConfig, evaluate
    from explorer.exports import metrics_table, summary_json, trec_run
    from explorer.reports import evaluation_report

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    for required in ("ndcg@10", "mrr@10", "recall@100"):
        if required not in metrics:
            metrics.append(required)
    rerank = pipeline.reranker is not None
    blend = 1.0
    if rerank:
        blend = pipeline.reranker.info.recommended_blend if args.blend == "card" else _weight(args.blend)
    config = EvalConfig(split=args.split, first_stage=args.first_stage, depth=args.depth, blend=blend, rerank=rerank)

    def progress(done: int, total: int) -> None:
        print(f"\revaluating {done}/{total} queries", end="" if done < total else "\n", file=sys.stderr, flush=True)

    cache = None if args.no_cache else settings.cache_dir / "evaluations"
    result = evaluate(pipeline, config, cache_folder=cache, progress=progress)
    summary = summary_json(result, metrics, args.relevant_grade)
    table = metrics_table([result], metrics, args.relevant_grade)
    print(table.to_string(index=False))
    if args.json:
        _write_json(summary, args.json, "summary")
    if args.csv:
        table.to_csv(args.csv, index=False)
        _say(f"metrics written to {args.csv}")
    if args.runs:
        folder = Path(args.runs)
        folder.mkdir(parents=True, exist_ok=True)
        for stage in result.stages():
            path = folder / f"{args.split}.{args.first_stage}.{stage}.trec"
            path.write_text(trec_run(result, stage), encoding="utf-8")
            _say(f"TREC run written to {path}")
    if args.report:
        Path(args.report).write_text(evaluation_report(result, metrics, relevant_grade=args.relevant_grade),
                                     encoding="utf-8")
        _say(f"HTML report written to {args.report}")
    return 0


def _write_json(data: object, target: str, what: str) -> None:
    """``data`` as JSON to the file ``target``, or to stdout when it is "-"."""
    from pathlib import Path

    text = json.dumps(data, indent=1)
    if target == "-":
        print(text)
        return
    Path(target).write_text(text + "\n", encoding="utf-8")
    _say(f"{what} written to {target}")


def _weight(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--blend takes a number from 0 to 1, or 'card'; got {text!r}.") from None


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _build_default(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from explorer.device import choose_device
    from explorer.models import hub_reachable
    from explorer.training.default_model import DEFAULT_SETTINGS, build_default_reranker, default_reranker_exists

    settings = Settings.from_env()
    device = choose_device(args.device)
    if args.if_needed and default_reranker_exists(settings):
        _say(f"default reranker: already built in {settings.models_dir}")
        _prepare_engine(settings, device)
        return 0
    if args.if_needed and hub_reachable(settings):
        _say("default reranker: the hub is reachable, so the pretrained cross-encoder will be used; nothing to build")
        return 0
    _say("default reranker: no pretrained cross-encoder can be had here, so one is trained now (a few minutes)")
    build_default_reranker(settings, device, say=_say,
                           train_settings=replace(DEFAULT_SETTINGS, steps=args.steps or DEFAULT_SETTINGS.steps))
    _prepare_engine(settings, device)
    return 0


def _prepare_engine(settings: Settings, device: DeviceChoice) -> None:
    """Converts (and, for int8, quantises) the default reranker for the fast engine now, so that the app's
    first query does not wait for it; kept in the cache folder, so later runs only read it back."""
    from explorer.inference_engine import engine_for
    from explorer.models import TRAINED_RERANKER, load_reranker

    loaded = load_reranker(TRAINED_RERANKER, device, settings, hub_check=lambda _settings: False)
    info = engine_for(loaded.model, device).info()
    _say(f"default reranker: runs as {info.label} ({info.note})")


def _train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from explorer.device import choose_device
    from explorer.training.run import TrainRequest, train_and_evaluate
    from explorer.training.trainer import TrainSettings

    request = TrainRequest(
        data=Path(args.data), out=Path(args.out), split=args.split, held_out=args.held_out,
        use_labels=not args.no_labels, pseudo=None if args.pseudo == "none" else args.pseudo,
        pseudo_limit=args.pseudo_limit, depth=args.depth, held_out_share=args.held_out_share,
        bi_encoder=DEFAULT_BI_ENCODER if args.bi_encoder == "default" else args.bi_encoder,
        settings=TrainSettings(base=args.base, head=args.head, loss="distill" if args.teacher else args.loss,
                               steps=args.steps, learning_rate=args.lr, max_length=args.max_length,
                               frozen_layers=args.frozen_layers, student_layers=args.student_layers),
        teacher=(DEFAULT_RERANKER if args.teacher == "default" else args.teacher),
    )

    def show(step: int, total: int, loss: float | None) -> None:
        if step % 10 == 0 or step == total:
            _say(f"step {step}/{total}" + (f", loss {loss:.3f}" if loss is not None else ""))

    result = train_and_evaluate(request, Settings.from_env(), choose_device(args.device), say=_say, progress=show)
    print(json.dumps({"folder": str(result.folder), "before": result.before, "after": result.after,
                      "steps": result.steps, "losses": list(result.losses)}, indent=1))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from explorer.bench import CRANFIELD, BenchConfig, run_benchmark

    sizes = {name: value for name, value in (("depth", args.depth), ("corpus_size", args.corpus_size),
                                             ("repeats", args.repeats)) if value is not None}
    where = {"device": args.device, "sample": Path(args.data),
             "cranfield": Path(args.cranfield) if args.cranfield else CRANFIELD}
    config = BenchConfig.quick(**where, **sizes) if args.quick else BenchConfig(**where, **sizes)
    report = run_benchmark(config, Settings.from_env(), say=_say).to_json()
    rerank, embed, e2e, machine = report["rerank"], report["embed"], report["end_to_end"], report["machine"]
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}, "
          f"openvino {machine['openvino'] or 'not used'}, {machine['device']}; load average "
          f"{machine['load_average_before']} (before) / {machine['load_average_after']} (after)")
    print(f"rerank {rerank['details']['pairs_per_query']} pairs: baseline {rerank['baseline_ms']:.0f} ms "
          f"(p95 {rerank['baseline_p95_ms']:.0f}), engine {rerank['engine_ms']:.0f} ms (p95 {rerank['engine_p95_ms']:.0f}, "
          f"{rerank['details']['engine_label']}): {rerank['speedup']:.2f}x, Spearman {rerank['spearman']:.4f}, "
          f"top-10 overlap {rerank['top10_overlap']:.2f}")
    for label, other in rerank["details"]["alternatives"].items():
        print(f"  the engine as {label}: {other['median_ms']:.0f} ms (p95 {other['p95_ms']:.0f}): "
              f"{other['speedup']:.2f}x, Spearman {other['spearman']:.4f}, top-10 overlap {other['top10_overlap']:.2f}")
    print(f"embed {embed['details']['documents']} documents: baseline {embed['baseline_ms']:.0f} ms, engine "
          f"{embed['engine_ms']:.0f} ms ({embed['details']['engine_label']}): {embed['speedup']:.2f}x, "
          f"min cosine {embed['min_cosine']:.5f}")
    print(f"end to end, {e2e['details']['documents']} documents, k={e2e['details']['depth']}: median "
          f"{e2e['median_ms']:.0f} ms, p95 {e2e['p95_ms']:.0f} ms (" + ", ".join(
              f"{name} {ms:.0f}" for name, ms in e2e["details"]["stages_median_ms"].items()) + ")")
    index = report["index"]
    print(f"index: exact {index['exact_ms']:.2f} ms, HNSW {index['hnsw_ms']:.2f} ms per query, "
          f"HNSW recall@{index['k']} {index['recall']:.3f}")
    print("goals: " + ", ".join(f"{name} {'met' if met else 'NOT met'}" for name, met in report["goals"].items()))
    if args.json:
        _write_json(report, args.json, "results")
    return 0


def _load(args: argparse.Namespace) -> int:
    from pathlib import Path

    from explorer.loading import ColumnMapping, LoadSpec, TextSource, read_dataset
    from explorer.loading.store import save_dataset

    settings = Settings.from_env()
    folder_kinds = {"beir", "text_folder"}
    mapping = ColumnMapping(text=args.text_column, id=args.id_column, title=args.title_column) if args.text_column else None
    spec = LoadSpec(
        kind=args.kind, name=Path(args.source).stem if args.kind != "ir_datasets" else args.source,
        folder=Path(args.source) if args.kind in folder_kinds else None,
        corpus=TextSource.from_path(args.source) if args.kind in {"table", "text_zip", "lines"} else None,
        table_format=args.format, mapping=mapping,
        ir_datasets_id=args.source if args.kind == "ir_datasets" else None,
        queries=TextSource.from_path(args.queries) if args.queries else None,
        labels=TextSource.from_path(args.labels) if args.labels else None, labels_split=args.split,
        max_upload_mb=settings.max_upload_mb,
    )
    result = read_dataset(spec)
    report = result.report
    if args.save:
        saved = save_dataset(result, settings.cache_dir / "datasets")
        print(f"saved to {saved}", file=sys.stderr)
    if args.json:
        print(json.dumps(asdict(report), indent=1, default=str))
        return 0
    print(f"{report.documents} documents, {report.queries} queries, {report.labelled_queries} labelled queries, "
          f"{report.labels} labels, {report.warnings} warning(s)")
    for problem in report.problems:
        print(f"  warning: {problem}")
    return 0


def _print_result(result, dataset, top: int) -> None:
    print(f"\nfirst stage (top {top} of {len(result.first_stage)}):")
    for hit in result.first_stage[:top]:
        print(f"  {hit.rank:>3}  {hit.score:7.4f}  {hit.doc_id}  {dataset.document(hit.doc_id).title[:70]}")
    if result.reranked is not None:
        print(f"\nreranked (top {top}):")
        for hit in result.reranked[:top]:
            print(f"  {hit.rank:>3}  {hit.score:8.4f}  {hit.rank_change:+4d}  {hit.doc_id}  "
                  f"{dataset.document(hit.doc_id).title[:64]}")
    t = result.timings
    print(f"\ntimes (ms): query encoding {t.query_encoding_ms:.1f}, first-stage search {t.vector_search_ms:.1f}, "
          f"reranking {t.reranking_ms:.1f}, total {t.total_ms:.1f}")
