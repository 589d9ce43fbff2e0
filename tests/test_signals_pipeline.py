"""Signals on the real pipeline and the sample data's metadata: the page's path (OpenPipeline.search), an evaluation
reordered without scoring again, and the command line's --signal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.evaluation.runner import EvalConfig, evaluate
from explorer.evaluation.signalled import final_lists, redundancy_of, with_signals
from explorer.signals.config import parse_signals
from explorer.signals.fields import summarise_fields
from explorer.signals.ranking import apply_signals, metadata_lookup

QUERY = "how do I roll back a failed database migration"
SIGNALS = ["freshness:updated:180d:0.2", "authority:status:0.2:current=1,draft=0.3,archived=0,superseded=0"]


def test_the_sample_documents_carry_a_date_a_kind_and_a_status(sample):
    fields = {f.name: f for f in summarise_fields(sample.documents)}
    assert fields["updated"].kind == "date" and fields["updated"].present == len(sample.documents)
    assert not fields["updated"].bad_values
    assert fields["status"].kind == "category" and fields["kind"].kind == "category"
    statuses = {doc.metadata["status"] for doc in sample.documents}
    assert {"current", "archived"} <= statuses and len(statuses) <= 5


def test_the_pipeline_ranks_with_signals_as_apply_signals_computes(sample_pipeline):
    config = parse_signals(SIGNALS)
    plain = sample_pipeline.search(QUERY, depth=30)
    ranked = sample_pipeline.rank_with_signals(plain, config)
    assert ranked.reranked == plain.reranked  # the relevance list is kept as it was
    resolved = sample_pipeline.resolved_signals(config)
    assert resolved.signals[0].now.isoformat() == max(d.metadata["updated"] for d in sample_pipeline.dataset.documents)
    expected = apply_signals([h.doc_id for h in plain.reranked], [h.score for h in plain.reranked],
                             metadata_lookup(sample_pipeline.dataset.document), resolved)
    assert ranked.signals.order == expected.order
    assert ranked.signals.order != [h.doc_id for h in plain.reranked], "the signals moved nothing on this query"
    top = ranked.signals.hits[0]
    assert top.total == pytest.approx(sum(top.contributions.values()))
    shown = ranked.in_signal_order()
    assert [h.doc_id for h in shown.reranked] == ranked.signals.order
    assert [h.rank for h in shown.reranked] == list(range(1, 31))


def test_mmr_reads_the_indexed_vectors_and_lowers_redundancy(sample_pipeline, small_split):
    pipeline = sample_pipeline.with_dataset(small_split)
    evaluation = evaluate(pipeline, EvalConfig("few", depth=30))
    hits = pipeline.search(QUERY, depth=5).reranked
    vectors = pipeline.vectors_for(hits)
    assert vectors.shape == (5, 384)
    assert np.allclose(vectors, pipeline.index.vectors_of([h.doc_id for h in hits]))
    diverse = with_signals(evaluation, small_split, parse_signals(["mmr:0.5"]), pipeline.document_vectors)
    assert diverse.signals and "MMR, lambda 0.5" in diverse.name
    before = redundancy_of(evaluation, small_split, pipeline.document_vectors)
    after = redundancy_of(diverse, small_split, pipeline.document_vectors)
    assert after.mean_pairwise_cosine < before.mean_pairwise_cosine
    # nothing was scored again: the same documents per query, in another order
    for plain, reordered in zip(final_lists(evaluation), final_lists(diverse)):
        assert sorted(plain.doc_ids) == sorted(reordered.doc_ids)


def test_search_on_the_command_line_prints_the_signals(capsys):
    from explorer.cli import main

    code = main(["search", QUERY, "--depth", "20", "--reranker", "none", "--json", *[
        part for signal in SIGNALS for part in ("--signal", signal)]])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    hits = printed["signals"]["hits"]
    assert len(hits) == 20 and hits[0]["rank"] == 1
    assert set(hits[0]["contributions"]) == {"relevance", "freshness (updated)", "authority (status)"}
    assert main(["search", QUERY, "--signal", "freshness:updated:soon:0.2"]) == 2
    assert main(["search", QUERY, "--reranker", "none", "--signal", "freshness:updatd:30d:0.2"]) == 2
    said = capsys.readouterr().err
    assert "the field(s) updatd" in said and "kind, status, updated" in said
