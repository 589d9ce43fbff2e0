"""Every bad input in the table gives its documented message, fatal or as a warning."""

import re

import pytest

from explorer.errors import DataLoadError
from explorer.loading import LoadSpec, TextSource, read_dataset
from tests.bad_inputs import BAD_INPUTS, BadInput


def spec_for(case: BadInput) -> LoadSpec:
    def source(pair):
        return TextSource.from_bytes(*pair) if pair else None

    return LoadSpec(kind=case.kind, name="bad", corpus=source(case.corpus), queries=source(case.queries),
                    labels=source(case.labels), max_upload_mb=case.max_upload_mb)


def test_the_table_is_large_enough():
    assert len(BAD_INPUTS) >= 15
    assert len({case.name for case in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.name)
def test_bad_input_message(case):
    if case.outcome == "fatal":
        with pytest.raises(DataLoadError) as caught:
            read_dataset(spec_for(case))
        assert re.search(case.message, str(caught.value)), str(caught.value)
        return
    result = read_dataset(spec_for(case))
    messages = [str(problem) for problem in result.report.problems]
    assert any(re.search(case.message, m) for m in messages), messages
    assert result.report.documents == case.documents


def test_documented_in_docs():
    """docs/data-formats.md lists every case of the table by name."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "data-formats.md").read_text(encoding="utf-8")
    missing = [case.name for case in BAD_INPUTS if case.name not in text]
    assert not missing, missing


def test_progress_is_reported_while_reading():
    seen = []
    data = b"".join(b'{"id": "%d", "text": "doc %d"}\n' % (i, i) for i in range(12000))
    read_dataset(LoadSpec(kind="table", name="p", corpus=TextSource.from_bytes("c.jsonl", data)),
                 progress=lambda done, total: seen.append((done, total)))
    assert len(seen) >= 3 and seen[-1][1] == len(data) and seen[-1][0] > seen[0][0]
