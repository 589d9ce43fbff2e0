"""Documents from plain text, one document per line; the id is the line number."""

from __future__ import annotations

from typing import Iterator

from explorer.loading.assemble import DocRecord
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import TextSource, iter_lines
from explorer.records import Document


def iter_line_documents(source: TextSource, log: ProblemLog) -> Iterator[DocRecord]:
    """A document per non-empty line, stripped; its id is the line number (from 1)."""
    for line_no, line in iter_lines(source, log):
        if line.strip():
            yield DocRecord(source.name, line_no, Document(doc_id=str(line_no), title="", text=line.strip(),
                                                           metadata={"source": source.name}))
