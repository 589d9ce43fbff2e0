"""``python -m explorer load``: read and check a corpus in any supported format, and save it for the app."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from explorer.cli.output import emit, say
from explorer.settings import Settings


def load(args: argparse.Namespace) -> int:
    """Reads a corpus (with queries and labels), prints the problem report, and saves it with --save."""
    from pathlib import Path

    from explorer.loading import ColumnMapping, LoadSpec, TextSource, delimiter_choice, read_dataset
    from explorer.loading.store import save_dataset

    settings = Settings.from_env()
    zipped_beir = args.kind == "beir" and args.source.lower().endswith(".zip")  # a zip of a BEIR folder
    folder_kinds = {"beir", "text_folder"} - ({"beir"} if zipped_beir else set())
    file_kinds = {"table", "text_zip", "lines"} | ({"beir"} if zipped_beir else set())
    mapping = ColumnMapping(text=args.text_column, id=args.id_column, title=args.title_column) if args.text_column else None
    spec = LoadSpec(
        kind=args.kind, name=Path(args.source).stem if args.kind != "ir_datasets" else args.source,
        folder=Path(args.source) if args.kind in folder_kinds else None,
        corpus=TextSource.from_path(args.source) if args.kind in file_kinds else None,
        table_format=args.format, mapping=mapping, delimiter=delimiter_choice(args.delimiter),
        ir_datasets_id=args.source if args.kind == "ir_datasets" else None,
        queries=TextSource.from_path(args.queries) if args.queries else None,
        labels=TextSource.from_path(args.labels) if args.labels else None, labels_split=args.split,
        max_upload_mb=settings.max_upload_mb, max_document_mb=settings.max_document_mb,
    )
    result = read_dataset(spec)
    report = result.report
    if args.save:
        saved = save_dataset(result, settings.cache_dir / "datasets")
        say(f"saved to {saved}")
    if args.json:
        emit(json.dumps(asdict(report), indent=1, default=str))
        return 0
    emit(f"{report.documents} documents, {report.queries} queries, {report.labelled_queries} labelled queries, "
          f"{report.labels} labels, {report.warnings} warning(s)")
    for problem in report.problems:
        emit(f"  warning: {problem}")
    return 0
