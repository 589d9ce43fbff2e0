"""Data sets by ir_datasets id (e.g. "cranfield", "beir/scifact/test"), read through the ir_datasets package.

ir_datasets downloads a data set's files the first time, into IR_DATASETS_HOME (default ~/.ir_datasets).
Where the download cannot happen (offline), files already placed there are read as usual.
"""

from __future__ import annotations

import logging
from typing import Iterator

from explorer.loading.assemble import DatasetBuilder, DocRecord, LabelRecord, LoadResult, QueryRecord
from explorer.loading.problems import ProblemLog
from explorer.records import Document, Query

logger = logging.getLogger(__name__)


def read_ir_dataset(dataset_id: str) -> LoadResult:
    """The data set of an ir_datasets id, with its load report; its labels, if any, become the split "test".

    Raises DataLoadError when ir_datasets is missing, the id is unknown, or the files cannot be downloaded or read."""
    log = ProblemLog()
    dataset_id = dataset_id.strip()
    where = f"ir_datasets:{dataset_id}"
    try:
        import ir_datasets
    except ImportError as exc:
        raise log.fatal(where, None, "the ir_datasets package is not installed: pip install ir_datasets") from exc
    try:
        handle = ir_datasets.load(dataset_id)
    except KeyError as exc:
        raise log.fatal(where, None, f"ir_datasets has no data set {dataset_id!r}. Check the id against the "
                                     "ir_datasets catalogue (e.g. 'cranfield', 'beir/scifact/test').") from exc
    builder = DatasetBuilder(dataset_id.replace("/", "-"), where, log)
    try:
        if not handle.has_docs():
            raise log.fatal(where, None, "this ir_datasets id has no documents. Pick an id that includes a corpus.")
        builder.add_documents(_docs(handle, where))
        if handle.has_queries():
            builder.add_queries(QueryRecord(where, None, Query(str(q.query_id), _query_text(q)))
                                for q in handle.queries_iter())
        if handle.has_qrels():
            builder.add_labels("test", (LabelRecord(where, None, str(r.query_id), str(r.doc_id), int(r.relevance))
                                        for r in handle.qrels_iter()))
    except (OSError, RuntimeError) as exc:  # ir_datasets: RuntimeError('All download sources failed', ...)
        if isinstance(exc, ConnectionError) or "download" in str(exc).lower():
            raise log.fatal(where, None, "ir_datasets could not download the files; this machine may be offline. "
                                         "Place the data set's files under IR_DATASETS_HOME (default "
                                         "~/.ir_datasets), or load a BEIR folder instead.") from exc
        raise log.fatal(where, None, f"ir_datasets failed to read the files: {exc}") from exc
    return builder.build()


def _docs(handle, where: str) -> Iterator[DocRecord]:
    for doc in handle.docs_iter():
        fields = doc._asdict()
        text = fields.pop("text", None)
        if text is None and hasattr(doc, "default_text"):
            text = doc.default_text()
        title = fields.pop("title", "") or ""
        doc_id = str(fields.pop("doc_id"))
        metadata = {k: str(v) for k, v in fields.items() if v not in (None, "")}
        yield DocRecord(where, None, Document(doc_id, str(title), str(text or ""), metadata))


def _query_text(query) -> str:
    fields = query._asdict()
    if "text" in fields:
        return str(fields["text"])
    return query.default_text() if hasattr(query, "default_text") else ""
