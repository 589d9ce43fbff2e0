"""The Evaluate, Score threshold and Compare pages in AppTest, on the sample data with the real packaged models."""

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300
QUICK = {"depth": 10}  # the sample test split (53 queries) at depth 10: seconds, not minutes


def page(name, **state):
    app = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=TIMEOUT)
    for key, value in {**QUICK, **state}.items():
        app.session_state[key] = value
    return app.run()


def test_evaluate_page_runs_and_shows_metrics_significance_and_depth():
    app = page("6_Evaluate.py")
    assert not app.exception, app.exception
    app.button(key="run_eval").click().run()
    assert not app.exception, app.exception
    metrics = app.dataframe[0].value
    assert list(metrics.columns[:2]) == ["first stage", "reranked"]
    assert {"ndcg@10", "recall@100", "map"} <= set(metrics.index)
    per_query = app.dataframe(key="query_table").value
    assert len(per_query) == 53 and "change" in per_query
    verdict = " ".join(m.value for m in [*app.success, *app.warning])
    assert "paired t-test p =" in verdict
    assert any("not trained for relevance" in w.value for w in app.warning)
    shown = " ".join(c.value for c in app.caption)
    assert "judged@10" in shown and "rank-biased overlap" in shown
    app.button(key="run_sweep").click().run()
    assert not app.exception, app.exception
    charts = app.get("plotly_chart")
    assert len(charts) == 2  # per-query changes, depth and cost
    app.button(key="build_report").click().run()
    assert not app.exception, app.exception
    assert app.get("download_button")


def test_evaluations_saved_as_snapshots_are_listed_compared_and_reported_on():
    import uuid

    tag = uuid.uuid4().hex[:6]
    app = page("6_Evaluate.py")
    app.button(key="run_eval").click().run()  # read back from the evaluation the test above ran
    app.text_input(key="snapshot_name").set_value(f"counted {tag}")
    app.button(key="snapshot_save").click().run()
    assert not app.exception, app.exception
    assert f"Saved as snapshot 'counted {tag}' (test labels + judgements v" in app.success[-1].value
    app.selectbox(key="eval_unjudged").set_value("removed").run()
    assert "removed from each list before scoring" in " ".join(c.value for c in app.caption)
    app.text_input(key="snapshot_name").set_value(f"condensed {tag}")
    app.button(key="snapshot_save").click().run()
    app.text_input(key="snapshot_name").set_value(f"condensed {tag}")
    app.button(key="snapshot_save").click().run()
    assert "exists; choose another name" in app.error[-1].value
    snapshots = page("10_Snapshots.py", snap_picked=[f"counted {tag}", f"condensed {tag}"])
    assert not snapshots.exception, snapshots.exception
    listed = snapshots.dataframe[0].value.set_index("name")  # the list of snapshots
    assert listed.loc[f"condensed {tag}", "unjudged"] == "removed" and listed.loc[f"counted {tag}", "queries"] == 53
    # the sample qrels judge few of the documents: condensed lists score higher than counting them as not relevant
    assert listed.loc[f"condensed {tag}", "nDCG@10"] > listed.loc[f"counted {tag}", "nDCG@10"]
    compared = snapshots.dataframe[1].value  # the two side by side
    assert list(compared["snapshot"]) == [f"counted {tag}", f"condensed {tag}"]
    assert f"condensed {tag} against counted {tag} (ndcg@10): " in " ".join(t.value for t in snapshots.text)
    assert len(snapshots.get("plotly_chart")) == 2  # per-query changes, quality against latency
    snapshots.selectbox(key="snap_one").set_value(f"condensed {tag}")
    snapshots.button(key="snap_build_report").click().run()
    assert not snapshots.exception, snapshots.exception
    assert snapshots.get("download_button")


def test_the_story_page_tells_the_stages_gain_with_its_interval_examples_and_cost():
    app = page("12_Story.py")
    assert not app.exception, app.exception
    app.button(key="story_run").click().run()  # read back from the evaluation the Evaluate test ran (depth 10)
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    headline = app.subheader[0].value
    assert "nDCG@10 (95% CI" in headline and "better on" in headline
    labels = {m.label: m.value for m in app.metric}
    low, high = (float(part) for part in labels["95% interval of the difference"].split(" to "))
    difference = float(labels["Candidate nDCG@10"]) - float(labels["Baseline nDCG@10"])
    assert low <= round(difference, 3) + 0.001 and round(difference, 3) - 0.001 <= high
    verdict = " ".join(m.value for m in [*app.success, *app.info, *app.warning]).replace("\\", "")
    assert any(said in verdict for said in ("better than", "worse than", "No significant difference"))
    # six examples (three wins, three losses), each with the baseline's, the candidate's and the ideal list
    frames = [frame.value for frame in app.dataframe]  # six examples' three lists, then the cost
    lists, cost = frames[:-1], frames[-1]
    assert len(lists) == 18 and all({"rank", "label", "document"} <= set(table.columns) for table in lists)
    assert {"was"} <= set(lists[1].columns) and {"now"} <= set(lists[0].columns)
    assert list(cost["pairs scored per query"]) == [0, 10]
    assert len(app.get("plotly_chart")) == 7  # six examples' moves, the distribution of changes
    assert app.get("download_button")
    app.button(key="story_open_0").click().run()
    assert app.session_state["picked_query"]  # the example's query, handed to the Search page


def test_the_story_page_compares_two_snapshots():
    import uuid

    tag = uuid.uuid4().hex[:6]
    app = page("6_Evaluate.py")
    app.button(key="run_eval").click().run()
    app.text_input(key="snapshot_name").set_value(f"story before {tag}")
    app.button(key="snapshot_save").click().run()
    app.selectbox(key="eval_unjudged").set_value("removed").run()
    app.text_input(key="snapshot_name").set_value(f"story after {tag}")
    app.button(key="snapshot_save").click().run()
    story = page("12_Story.py", story_mode="Two saved snapshots", story_baseline=f"story before {tag}",
                 story_candidate=f"story after {tag}")
    assert not story.exception, story.exception
    assert not story.error, [e.value for e in story.error]
    caption = " ".join(c.value for c in story.caption)
    assert f"story before {tag}" in caption.replace("\\", "") and f"story after {tag}" in caption.replace("\\", "")
    # condensed lists score higher on the sample data, whose labels cover few documents
    assert float(story.metric[1].value) > float(story.metric[0].value)


def test_the_story_page_compares_two_configurations():
    from ui.sidebar import NO_RERANKER

    story = page("12_Story.py", story_mode="Two configurations", story_Baseline_first="bm25",
                 story_Baseline_reranker=NO_RERANKER, story_Candidate_first="dense",
                 story_Candidate_reranker=NO_RERANKER)
    assert not story.exception, story.exception
    story.button(key="story_run_two").click().run()
    assert not story.exception, story.exception
    assert not story.error, [e.value for e in story.error]
    assert "nDCG@10 (95% CI" in story.subheader[0].value
    caption = " ".join(c.value for c in story.caption).replace("\\", "")
    assert "Baseline: bm25 only. Candidate: dense only." in caption
    cost = story.dataframe[-1].value
    assert list(cost["pairs scored per query"]) == [0, 0]  # no reranker on either side


def test_evaluate_page_rejects_bad_cut_offs():
    app = page("6_Evaluate.py")
    app.text_input(key="eval_cutoffs").set_value("10, ten").run()
    assert not app.exception
    assert "Cut-offs must be whole numbers" in app.error[0].value


def test_threshold_page_suggests_and_hands_the_threshold_to_the_search_page():
    app = page("7_Thresholds.py", thr_target=0.5)
    app.button(key="thr_run").click().run()
    assert not app.exception, app.exception
    assert len(app.get("plotly_chart")) == 2
    labels = {m.label: m.value for m in app.metric}
    assert "Suggested threshold" in labels
    assert [b.proto.label for b in app.get("download_button")] == ["Export this pipeline (JSON)"]
    app.button(key="adopt_threshold").click().run()
    assert not app.exception, app.exception
    assert app.session_state["use_threshold"] is True
    assert app.session_state["threshold_raw"] == pytest.approx(float(labels["Suggested threshold"]), rel=1e-3)
    assert "cuts off results under" in app.success[0].value


def test_compare_page_tests_each_configuration_against_the_first():
    # hybrid shares most candidates with dense, whose reranker scores earlier tests left on disk
    app = page("8_Compare.py", cmp_first_stages=["dense", "hybrid"])
    assert not app.dataframe and not app.status  # nothing runs before the click
    app.button(key="cmp_run").click().run()  # one click
    assert not app.exception, app.exception
    # the click's own run says it is running, one configuration after another, from the start
    assert [s.label for s in app.status] == ["4 configuration(s) compared"]
    table = app.dataframe[0].value
    assert len(table) == 4  # 2 first stages x (no reranker, the default reranker)
    # short names in the rows, the chart and the export picker; the stand-in and the name asked for said once
    short = ["dense only", "dense → MiniLM-L6 joint encoder", "hybrid only", "hybrid → MiniLM-L6 joint encoder"]
    assert list(table["configuration"]) == short
    assert app.selectbox(key="cmp_export_choice").options == short
    chart = app.get("plotly_chart")[0].proto.spec
    assert "hybrid only" in chart and "asked for" not in chart
    captions = [c.value.replace("\\", "") for c in app.caption]  # markdown escapes of the names dropped
    assert sum("asked for as cross-encoder/ms-marco-MiniLM-L-6-v2" in c for c in captions) == 1
    # the test against the baseline in columns of its own, the p-value whole, in 3 significant figures
    assert table["vs baseline"].iloc[0] == "baseline" and pd.isna(table["p-value"].iloc[0])
    assert table["vs baseline"].iloc[1:].str.contains("significant|not computed").all()
    assert table["p-value"].iloc[1:].notna().any()
    assert '"%.3g"' in app.dataframe[0].proto.columns and '"%.3f"' in app.dataframe[0].proto.columns
    # labels judge these lists, so agreement without labels is not offered in their place
    assert not any("Without labels" in c for c in captions)
    assert len(app.get("plotly_chart")) == 1
    assert [b.proto.label for b in app.get("download_button")] == ["Export this pipeline (JSON)"]


def test_compare_page_adds_the_reranker_reading_only_the_first_stages_top_m():
    app = page("8_Compare.py", cmp_keeps=[5], cmp_keep_filters=["first stage"])
    app.button(key="cmp_run").click().run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    # the two configurations that ran, then the reranked one reading the first stage's top 5 (derived, not run)
    assert list(table["configuration"]) == ["dense only", "dense → MiniLM-L6 joint encoder",
                                            "dense → MiniLM-L6 joint encoder · first stage → top 5"]
    assert app.selectbox(key="cmp_export_choice").options == list(table["configuration"])[:2]  # only what ran
    captions = " ".join(c.value.replace("\\", "") for c in app.caption)
    assert "did not run" in captions and "ms a pair" in captions
    assert not [w.value for w in app.warning if w.value.startswith("Skipped")]  # nothing skipped
    assert table["vs baseline"].iloc[2] != "baseline"


def test_compare_page_names_the_small_reranker_that_chose_the_top_m_once_in_its_note():
    from explorer.models.packaged import PACKAGED_RERANKER

    app = page("8_Compare.py", cmp_keeps=[5], cmp_keep_filters=["small reranker"], use_cascade=True,
               cascade_small=PACKAGED_RERANKER, cascade_keep=5)
    app.button(key="cmp_run").click().run()
    assert not app.exception, app.exception
    # a short name in the row (the small reranker's full name, often a folder's path, made rows and labels unreadable)
    assert list(app.dataframe[0].value["configuration"]) == [
        "dense only", "dense → MiniLM-L6 joint encoder", "dense → MiniLM-L6 joint encoder · small reranker → top 5"]
    captions = " ".join(c.value.replace("\\", "") for c in app.caption)
    assert "the small reranker (MiniLM-L6 joint encoder (packaged encoder, no relevance training))" in captions
    assert "ms a query" in captions


def frame_with(app, column: str) -> pd.DataFrame:
    """The page's first table with ``column`` (tables without a selection carry no key in AppTest)."""
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


def test_evaluate_and_compare_measure_the_sidebars_signals_and_search_their_weights():
    # tuned on train: other tests may have left a "judged here" split of grades given on the Judge page
    app = page("6_Evaluate.py", use_signals=True, signals_tune_split="train")
    app.button(key="run_eval").click().run()
    assert not app.exception, app.exception
    measured = frame_with(app, "relevance only")
    assert list(measured.columns) == ["metric", "relevance only", "with signals", "change"]
    assert (measured["change"] == measured["with signals"] - measured["relevance only"]).all()
    redundancy = frame_with(app, "ranking")
    assert list(redundancy["ranking"]) == ["relevance only", "signals"]
    assert any("relevance 0.80, freshness (updated) 0.10, authority (status) 0.10" in c.value.replace("\\", "")
               for c in app.caption)
    app.button(key="signals_search").click().run()
    assert not app.exception, app.exception
    said = " ".join(m.value for m in [*app.success, *app.warning]).replace("\\", "")
    assert "Weights searched on train" in said and "on test:" in said
    trials = frame_with(app, "ndcg@10 on train")
    assert list(trials.columns) == ["freshness (updated)", "authority (status)", "ndcg@10 on train"]
    best = trials.iloc[0]
    app.button(key="signals_adopt").click().run()
    assert not app.exception, app.exception
    assert app.session_state["sig_fresh_weight"] == pytest.approx(best["freshness (updated)"])
    assert app.session_state["sig_auth_weight"] == pytest.approx(best["authority (status)"])

    compared = page("8_Compare.py", use_signals=True, cmp_signals=True)
    compared.button(key="cmp_run").click().run()
    assert not compared.exception, compared.exception
    names = list(compared.dataframe[0].value["configuration"])
    assert names == ["dense only", "dense → MiniLM-L6 joint encoder", "dense only + signals",
                     "dense → MiniLM-L6 joint encoder + signals"]
