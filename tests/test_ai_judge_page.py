"""The AI judge page in AppTest, against the local stub endpoint (tests/llm_stub.py): the plan before anything is
sent, a sample graded and checked against the people with the engine's own figures, a host not allowed refused,
the grades counted as labels only once ticked, and the key never on the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.judging import ai_judge
from explorer.judging.ai_agreement import AIAgreement, ai_agreement
from explorer.judging.datasets import dataset_key
from explorer.judging.scale import scale_of
from explorer.settings import SAMPLE_DATA
from tests.llm_stub import StubServer
from ui.plain_text import markdown_literal

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120
KEY = "sk-test-SECRET-123"
RATER = "ai:stub"
SAMPLE = 3  # queries of the test split: about a dozen pairs, graded in a moment
pytestmark = pytest.mark.slow  # the sidebar loads the packaged models on the first run


@pytest.fixture
def stub(monkeypatch):
    """The stub endpoint, allowed as EXPLORER_LLM_URL, with a key in OPENAI_API_KEY; the page's cached Settings read
    afresh before and after (they hold the environment)."""
    from ui import cache

    with StubServer() as server:
        monkeypatch.setenv("EXPLORER_LLM_URL", server.base_url)
        monkeypatch.setenv("EXPLORER_LLM_MODEL", "stub")
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.delenv("EXPLORER_LLM_HOSTS", raising=False)
        monkeypatch.delenv("EXPLORER_LLM_KEY_VARIABLE", raising=False)
        cache.settings.clear()
        store = cache.judgements()
        store.set_counted(dataset_key(SAMPLE_DATA), RATER, False)  # whatever an earlier test left
        try:
            yield server
        finally:
            store.set_counted(dataset_key(SAMPLE_DATA), RATER, False)
            cache.settings.clear()


def page(**state) -> AppTest:
    app = AppTest.from_file(str(ROOT / "pages" / "14_AI_judge.py"), default_timeout=TIMEOUT)
    for key, value in {"aij_sample": SAMPLE, **state}.items():
        app.session_state[key] = value
    return app.run()


def expected_agreement(sample) -> tuple[str, AIAgreement]:
    """The prompt version and the agreement, worked out here from the store the way the command line does."""
    from ui import cache

    store, key = cache.judgements(), dataset_key(SAMPLE_DATA)
    scale = scale_of(store, key, sample)
    version = ai_judge.judge_prompt(scale, store.guidelines(key)).version
    qrels = sample.qrels_by_split["test"]
    human = ai_judge.human_labels(qrels, store.judgements(key))
    chosen = ai_judge.sample_of_labelled({pair: grade for pair, grade in human.items() if pair[0] in qrels}, SAMPLE)
    stored = ai_judge.stored_grades(store, key, RATER, version)
    return version, ai_agreement(RATER, {pair: stored[pair] for pair in chosen if pair in stored}, human,
                                 scale.grades)


def graded_page(stub: StubServer) -> AppTest:
    """The page after "Grade the sample", checked to have sent the plan's pairs and no more."""
    app = page()
    assert not app.exception, app.exception
    assert not stub.requests
    app.button(key="aij_sample_run").click().run()
    assert not app.exception, app.exception
    return app


def test_the_plan_comes_first_then_the_sample_is_graded_and_checked_with_the_engines_figures(stub, sample):
    from ui import cache

    app = page()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    plan = next(c.value for c in app.caption if c.value.startswith("Plan"))
    assert "pair\\(s\\) to grade" in plan and "call\\(s\\)" in plan and "no price set" in plan
    assert not stub.requests  # nothing is sent before the button
    app.button(key="aij_sample_run").click().run()
    assert not app.exception, app.exception
    version, agreement = expected_agreement(sample)
    assert agreement.pairs >= 5 and len(stub.requests) == agreement.pairs  # one call a pair (the stub answers JSON)
    stored = ai_judge.stored_grades(cache.judgements(), dataset_key(SAMPLE_DATA), RATER, version)
    assert len(stored) >= agreement.pairs
    # the verdict box holds the engine's summary, the weighted kappa in it
    boxes = [box.value for kind in ("success", "warning", "error") for box in app.get(kind)]
    verdict = next(value for value in boxes if "Weighted kappa" in value)
    assert markdown_literal(agreement.summary) in verdict
    assert markdown_literal(f"{agreement.kappa:.3f}") in verdict
    assert agreement.verdict == "against" and any(e.value == verdict for e in app.error)  # a dozen pairs say little
    chart = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert chart["data"][0]["z"] == agreement.confusion.tolist()
    assert chart["layout"]["xaxis"]["title"]["text"] == "AI judge's grade"
    assert chart["layout"]["yaxis"]["tickvals"] == list(agreement.grades)
    table = next(frame.value for frame in app.dataframe if "reason" in frame.value.columns)
    assert list(table.columns) == ["query id", "query text", "doc id", "people", "AI", "reason"]
    assert [(row["query id"], row["doc id"], row["people"], row["AI"]) for _, row in table.iterrows()] == [
        (d.query_id, d.doc_id, d.human, d.ai) for d in agreement.disagreements]
    versions = next(frame.value for frame in app.dataframe if "prompt version" in frame.value.columns)
    assert versions[versions["this prompt"]]["prompt version"].tolist() == [version]


def test_the_check_survives_a_reload_and_an_edited_prompt_is_a_new_version(stub, sample):
    graded_page(stub)
    sent = len(stub.requests)
    version, agreement = expected_agreement(sample)
    again = page()  # a new session: the agreement is read back from the store, and nothing is asked again
    assert not again.exception, again.exception
    assert len(stub.requests) == sent
    assert any(markdown_literal(agreement.summary) in box.value for box in again.error)
    assert "0 call\\(s\\)" in next(c.value for c in again.caption if c.value.startswith("Plan"))
    edited = page(aij_instructions="Grade strictly: only a document that answers the query whole gets the top grade.")
    assert not edited.exception, edited.exception
    assert not [box for box in edited.error if "Weighted kappa" in box.value]  # the new version has no grades yet
    versions = next(frame.value for frame in edited.dataframe if "prompt version" in frame.value.columns)
    assert version in versions["prompt version"].tolist()
    assert not versions[versions["prompt version"] == version]["this prompt"].iloc[0]


def test_a_host_that_is_not_allowed_is_refused_and_nothing_is_sent(stub):
    app = page(aij_url="http://10.255.255.1:9/v1")
    assert not app.exception, app.exception
    message = " ".join(e.value for e in app.error)
    assert "10.255.255.1" in message and "EXPLORER_LLM_HOSTS" in message
    assert not [b for b in app.button if b.key == "aij_sample_run"]
    assert not stub.requests


def test_the_grades_count_as_labels_only_once_ticked(stub):
    from ui import cache

    app = graded_page(stub)
    store, key = cache.judgements(), dataset_key(SAMPLE_DATA)
    assert RATER in store.ai_raters(key)
    assert not [j for j in store.judgements(key) if j.rater == RATER]
    assert [j for j in store.judgements(key, with_ai=True) if j.rater == RATER]
    box = app.checkbox(key=f"aij_count_{RATER}")
    assert not box.value and f"{store.ai_raters(key)[RATER]:,} grades as labels" in box.label
    # its check says "against" (too few pairs): advised against, yet allowed
    assert any("Not recommended" in w.value for w in app.warning)
    box.check().run()
    assert not app.exception, app.exception
    assert RATER in store.counted_ai(key)
    assert [j for j in store.judgements(key) if j.rater == RATER]
    assert app.checkbox(key=f"aij_count_{RATER}").value
    app.checkbox(key=f"aij_count_{RATER}").uncheck().run()
    assert RATER not in store.counted_ai(key)
    assert not [j for j in store.judgements(key) if j.rater == RATER]


def test_the_key_is_sent_to_the_endpoint_and_shown_nowhere(stub):
    app = graded_page(stub)
    assert stub.requests and all(r.authorization == f"Bearer {KEY}" for r in stub.requests)
    shown = [str(element.value) for kind in ("title", "caption", "markdown", "error", "warning", "info", "success",
                                             "text", "code", "text_input", "text_area", "number_input", "selectbox")
             for element in app.get(kind)]
    shown += [frame.value.to_csv() for frame in app.dataframe]
    shown += [box.label for box in app.checkbox] + [chart.proto.spec for chart in app.get("plotly_chart")]
    assert "OPENAI\\_API\\_KEY is set" in " ".join(shown)  # said to be set, never shown
    assert not [text for text in shown if KEY in text]


def test_the_pools_hold_only_documents_without_a_label_that_this_prompt_has_not_graded(sample, tmp_path):
    from explorer.judging.store import Judgement, JudgementStore
    from explorer.settings import Settings
    from ui.ai_judge_panel import JudgeContext, pool_pairs

    store = JudgementStore(tmp_path / "judgements.sqlite")
    key = "sample_data"
    context = JudgeContext(store, key, sample, sample, scale_of(store, key, sample), Settings.from_env())
    query_id = "q003"
    own = set(sample.labels_for(query_id))
    free = [doc.doc_id for doc in sample.documents if doc.doc_id not in own][:6]
    labelled = sorted(own)[0]
    store.put(key, Judgement(query_id, free[0], "ann", 2))  # a person graded it here
    version = "p-0000beef"
    store.put_many(key, [Judgement(query_id, free[1], RATER, 1, ai_judge.note_of(version, "seen"))], ai=True)
    lists = {query_id: [[labelled, free[0], free[1], free[5]], [free[2], free[3], free[1], free[4]]]}
    assert pool_pairs(context, lists, 3, RATER, version) == [(query_id, doc) for doc in sorted(free[2:4])]
    # another prompt version has graded nothing yet: the document the old one graded is in its pool
    assert (query_id, free[1]) in pool_pairs(context, lists, 3, RATER, "p-1111cafe")
    store.close()
