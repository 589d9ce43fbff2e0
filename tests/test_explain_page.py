"""The explanations page in AppTest, on the sample data with the real packaged models: occlusion, the query's words,
integrated gradients with the completeness check, the deletion curves, why A above B and why it moved."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def test_the_explanations_page_explains_a_labelled_pair_every_way():
    app = AppTest.from_file(str(ROOT / "pages" / "13_Explain.py"), default_timeout=300).run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    captions = " ".join(c.value for c in app.caption)
    assert "Occlusion cost" in captions and "First stage (bi-encoder cosine" in captions
    frames = app.get("iframe")
    # A's occlusion, the first stage's and the reranker's view of A, and A and B side by side when A is above B
    assert len(frames) in (3, 5)
    app.button(key="explain_ig").click().run()
    assert not app.exception, app.exception
    assert any("completeness holds within 5%" in c.value for c in app.caption)
    app.button(key="explain_deletion").click().run()
    assert not app.exception, app.exception
    assert any("score follows" in s.value for s in app.success)
    assert len(app.get("plotly_chart")) == 1
    # A (the query's best-labelled document) above B or not, the pair view says which
    said = " ".join(m.value for m in app.markdown) + " ".join(w.value for w in app.warning)
    assert "A is above B by" in said or "not above B" in said


def test_an_unknown_document_is_an_error_that_says_what_to_do():
    app = AppTest.from_file(str(ROOT / "pages" / "13_Explain.py"), default_timeout=300)
    app.session_state["explain_doc_a"] = "no-such-document"
    app.run()
    assert not app.exception, app.exception
    assert "There is no document 'no-such-document'" in app.error[0].value
