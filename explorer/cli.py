"""Command line: the same engine as the pages, for batch work. `python -m explorer --help`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from typing import Sequence

from explorer.errors import ExplorerError
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, SAMPLE_DATA, Settings

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
    build.add_argument("--steps", type=int, default=200)
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
    trainer.add_argument("--loss", choices=["listwise", "pointwise"], default="listwise")
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
    if args.command == "index":
        return 0
    result = pipeline.search(args.query, depth=args.depth)
    if args.json:
        print(json.dumps(asdict(result), indent=1, default=str))
        return 0
    _print_result(result, dataset, args.top)
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _build_default(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from explorer.device import choose_device
    from explorer.models import hub_reachable
    from explorer.training.default_model import DEFAULT_SETTINGS, build_default_reranker, default_reranker_exists

    settings = Settings.from_env()
    if args.if_needed and default_reranker_exists(settings):
        _say(f"default reranker: already built in {settings.models_dir}")
        return 0
    if args.if_needed and hub_reachable(settings):
        _say("default reranker: the hub is reachable, so the pretrained cross-encoder will be used; nothing to build")
        return 0
    _say("default reranker: no pretrained cross-encoder can be had here, so one is trained now (a few minutes)")
    build_default_reranker(settings, choose_device(args.device), say=_say,
                           train_settings=replace(DEFAULT_SETTINGS, steps=args.steps))
    return 0


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
        settings=TrainSettings(base=args.base, head=args.head, loss=args.loss, steps=args.steps,
                               learning_rate=args.lr, max_length=args.max_length),
    )

    def show(step: int, total: int, loss: float | None) -> None:
        if step % 10 == 0 or step == total:
            _say(f"step {step}/{total}" + (f", loss {loss:.3f}" if loss is not None else ""))

    result = train_and_evaluate(request, Settings.from_env(), choose_device(args.device), say=_say, progress=show)
    print(json.dumps({"folder": str(result.folder), "before": result.before, "after": result.after,
                      "steps": result.steps, "losses": list(result.losses)}, indent=1))
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
    print(f"\ntimes (ms): query encoding {t.query_encoding_ms:.1f}, vector search {t.vector_search_ms:.1f}, "
          f"reranking {t.reranking_ms:.1f}, total {t.total_ms:.1f}")
