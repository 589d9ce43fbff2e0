"""Real-browser tests of one page at a time: the app served on a free local port (``app_url`` in conftest), driven
in Debian's headless Chromium."""

from __future__ import annotations

import time

import pytest

from tests.browser_support import drawn_grid_texts, grid_texts, no_error_on, settle, wait_for_text

pytestmark = [pytest.mark.slow, pytest.mark.browser]
QUERY = "the vpn drops every few minutes on my laptop"


def test_query_shows_both_columns_and_drawn_charts(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    page.goto(app_url)
    page.wait_for_selector(".js-plotly-plot", timeout=300_000)
    before = grid_texts(page, 0)

    box = page.get_by_label("Query")
    # the query box near the top (the model notes are folded, not above it), and no Streamlit "Deploy" button
    top = box.bounding_box()
    assert top is not None and top["y"] < 520, top
    assert page.get_by_role("button", name="Deploy").count() == 0
    assert page.get_by_text("Deploy", exact=True).count() == 0
    box.fill(QUERY)
    box.press("Enter")
    deadline = time.time() + 180
    while grid_texts(page, 0) == before or page.get_by_text("Running...").count():
        assert time.time() < deadline, "the results did not change after typing a query"
        time.sleep(0.5)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    frames = page.locator('[data-testid="stDataFrame"]')
    assert frames.count() == 2
    for index in range(2):
        cells = grid_texts(page, index)
        assert cells[0] == "1" and len(cells) >= 10 * 5, cells[:12]
    assert any("vpn" in text.lower() for text in grid_texts(page, 0))
    charts = page.locator(".js-plotly-plot")
    assert charts.count() == 3
    # rank shifts: one drawn line per document; scores and latency: drawn bars
    assert charts.nth(0).locator(".scatterlayer .trace path.js-line").count() >= 10
    assert charts.nth(1).locator(".barlayer .trace").count() >= 2
    assert charts.nth(2).locator(".barlayer .trace path").count() == 3
    assert page.get_by_text("CPU", exact=False).count() >= 1

    # signals on: each result's final score drawn as stacked bars of its parts (the sample's date and status fields)
    page.get_by_text("Mix in signals: freshness, authority, diversity").click()
    wait_for_text(page, "Signals: what each adds to the final score", timeout=180)
    settle(page)
    page.screenshot(path=str(tmp_path / "search_signals.png"), full_page=True)
    no_error_on(page)
    assert page.get_by_text("Reranked (cross-encoder) + signals").count() == 1
    stacked = page.locator(".js-plotly-plot").filter(has_text="what each signal adds")
    assert stacked.count() == 1
    parts = stacked.locator(".barlayer .trace")
    assert parts.count() == 3  # relevance, freshness (updated), authority (status)
    for index in range(3):
        assert parts.nth(index).locator("path").count() >= 10  # one segment per result of the top 10
    legend = stacked.locator(".legend").text_content() or ""
    assert "relevance" in legend and "freshness (updated)" in legend and "authority (status)" in legend
    assert page.locator('[data-testid="stDataFrame"]').count() == 3  # the moves of the top 10 added
    moves = grid_texts(page, 2)
    assert moves[0] == "1" and any(text in ("same", "up 1", "down 1") or text.startswith(("up", "down", "new"))
                                   for text in moves), moves[:12]


LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def block_the_network(page) -> list[str]:
    """Abort every request that leaves this machine, as on a machine with no network; returns what was asked."""
    from urllib.parse import urlparse

    asked: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        if urlparse(url).scheme in ("http", "https", "ws", "wss") and urlparse(url).hostname not in LOCAL_HOSTS:
            asked.append(url)
            request_route.abort("internetdisconnected")
        else:
            request_route.continue_()

    page.route("**/*", route)
    return asked


def drawn_lines(page, view: str) -> int:
    """Lines drawn by the bertviz view named on the page ("head" or "model"), once it has finished drawing."""
    page.get_by_text(f"bertviz {view} view", exact=True).click()
    # The view's own iframe: while the page reruns, the previous view's iframe is still there for a moment.
    lines = page.frame_locator(f'iframe[srcdoc*=\'data-bertviz-view="{view}"\']').locator("#vis svg line")
    lines.first.wait_for(state="attached", timeout=300_000)
    counts = [-1]
    while len(counts) < 20 and not (counts[-1] > 0 and counts[-1] == counts[-2]):
        page.wait_for_timeout(250)
        counts.append(lines.count())
    return counts[-1]


def test_attention_page_draws_with_the_network_off(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    outside = block_the_network(page)
    page.goto(app_url)  # from the navigation, as a person would (a cold server does not know the page URLs yet)
    page.get_by_role("link", name="See why: attention").click()
    page.wait_for_selector(".js-plotly-plot .heatmaplayer image", state="attached", timeout=300_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    highlighted = page.frame_locator('iframe[srcdoc*="<mark"]')
    highlighted.locator("mark").first.wait_for(state="attached", timeout=120_000)  # the frame draws after the chart
    assert highlighted.locator("mark").count() == 10

    head_lines = drawn_lines(page, "head")
    page.screenshot(path=str(tmp_path / "head_view.png"), full_page=True)
    model_lines = drawn_lines(page, "model")
    page.screenshot(path=str(tmp_path / "model_view.png"), full_page=True)
    # a line per token pair per head: thousands in both views
    assert head_lines > 1000 and model_lines > 1000, (head_lines, model_lines)
    assert not [url for url in outside if "cdnjs" in url], outside  # nothing was even asked of the CDN


def test_evaluate_threshold_and_compare_pages(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 2400})
    page.goto(app_url)
    # depth 10 (the slider's least), set as a person would: 53 queries x 10 pairs keep the test to seconds
    assert evaluate_page_at_depth(page, 0) == "10"
    page.get_by_role("button", name="Run the evaluation").click(timeout=120_000)
    page.wait_for_selector(".js-plotly-plot .barlayer .trace path", state="attached", timeout=600_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "evaluate.png"), full_page=True)
    no_error_on(page)
    assert page.get_by_text("paired t-test p =", exact=False).count() == 1
    assert page.locator('[data-testid="stDataFrame"]').count() == 2  # metrics, per query

    # the cascade's M swept from this evaluation: a small reranker named in its box (the default reranker by its hub
    # name, which the offline stand-in answers), one click, and the chart of nDCG@10 and time against M draws
    box = page.get_by_role("textbox", name="Small reranker (hub id or folder)")
    box.fill("cross-encoder/ms-marco-MiniLM-L-6-v2")
    box.press("Enter")
    settle(page)
    page.get_by_role("button", name="Sweep M").click(timeout=60_000)
    wait_for_text(page, "quality and cost against M", timeout=600)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "cascade_sweep.png"), full_page=True)
    no_error_on(page)
    chart = page.locator(".js-plotly-plot").filter(has_text="against M")
    # cascade, full rerank, small alone, the reranker on the first stage's own top M, time
    assert chart.locator(".scatterlayer .trace").count() == 5
    # M = 5 (under the depth 10): the cascade's nDCG, the first stage's top M's, and time
    assert chart.locator(".scatterlayer .trace .point").count() == 3

    page.get_by_role("link", name="Score threshold").click()  # the same evaluation, read back
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace path.js-line", state="attached", timeout=300_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "thresholds.png"), full_page=True)
    no_error_on(page)
    charts = page.locator(".js-plotly-plot")
    assert charts.count() == 2
    assert charts.nth(0).locator(".barlayer .trace").count() == 2  # relevant and not relevant histograms
    assert charts.nth(1).locator(".scatterlayer .trace path.js-line").count() >= 3  # precision, recall, F1

    # the story of the same evaluation, already run in this session (no button to press): the headline, six examples
    # with both lists and the ideal order
    page.get_by_role("link", name="Story: did it help?").click()
    wait_for_text(page, "nDCG@10 (95% CI", timeout=300)
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", state="attached", timeout=120_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "story.png"), full_page=True)
    no_error_on(page)
    assert page.get_by_text("Examples: the biggest gains and losses").count() == 1
    assert page.locator('[data-testid="stDataFrame"]').count() == 6 * 3 + 1  # each example's three lists, the cost
    assert page.get_by_text("Candidate", exact=True).count() == 6
    assert page.get_by_text("Baseline", exact=True).count() == 6
    assert page.locator(".js-plotly-plot").count() == 7  # each example's moves, the distribution of changes

    page.get_by_role("link", name="Compare configurations").click()
    page.get_by_role("button", name="Run the comparison").click(timeout=120_000)
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace .point", state="attached", timeout=600_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    no_error_on(page)
    assert page.locator(".js-plotly-plot .scatterlayer .trace .point").count() == 2  # no reranker, the default one

    # the default reranker reading only the first stage's top 5, read from the same full rerank: a third row and point
    page.locator(".st-key-cmp_keeps").click()
    page.get_by_role("option", name="5", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Run the comparison").click(timeout=120_000)
    wait_for_text(page, "did not run", timeout=600)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "compare_top_m.png"), full_page=True)
    no_error_on(page)
    assert page.locator(".js-plotly-plot .scatterlayer .trace .point").count() == 3
    assert any("first stage → top 5" in cell for cell in drawn_grid_texts(page, 0))


def test_the_html_report_draws_its_charts_with_the_network_off(sample_pipeline, small_split, browser, tmp_path):
    from explorer.evaluation.html_report import evaluation_report
    from explorer.evaluation.runner import EvalConfig, evaluate

    from explorer.pipeline import RetrievalPipeline

    p = sample_pipeline  # the eight queries of the split "few": the report is what this is about, not the scoring
    pipeline = RetrievalPipeline(small_split, p.bi_encoder, p.reranker, p.index, p.index_report)
    evaluation = evaluate(pipeline, EvalConfig("few", depth=10), cache_folder=tmp_path / "cache")
    report = tmp_path / "report.html"
    report.write_text(evaluation_report(evaluation), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1300, "height": 2000})
    outside = block_the_network(page)
    page.goto(report.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg", state="attached", timeout=60_000)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    # the story first: the headline and the examples (each with three lists and its chart of moves) on the first screen
    headline = page.locator("p.headline")
    assert "nDCG@10 (95% CI" in headline.inner_text() and headline.bounding_box()["y"] < 400
    examples = page.locator("div.example")
    assert 1 <= examples.count() <= 6 and examples.first.bounding_box()["y"] < 1000
    assert examples.first.locator("ol").count() == 3
    # then the changes, the score histograms and the threshold curves; cost, metrics and every query (folded)
    assert page.locator(".js-plotly-plot").count() == examples.count() + 3
    assert page.locator(".js-plotly-plot .barlayer .trace path").count() > 10
    assert page.locator("table").count() == 3 and page.locator("details table").count() == 1
    assert outside == []


def test_the_load_page_does_not_read_the_servers_own_files(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 1800})
    page.goto(app_url + "load")  # straight to the page: the Search page's models are not what this is about
    page.get_by_text("Plain text, one document per line").wait_for(timeout=300_000)
    page.wait_for_timeout(1000)
    if page.get_by_text("Page not found").count():  # a server's very first session names no page yet
        page.keyboard.press("Escape")
    page.get_by_text("Plain text, one document per line").click(timeout=300_000)
    box = page.get_by_label("…or a path on the server (corpus file)")
    deadline = time.time() + 60
    while box.count() != 1 or page.get_by_text("Running...").count():  # the format's rerun is drawn
        assert time.time() < deadline, "the page did not settle on the plain-text format"
        page.wait_for_timeout(250)
    page.wait_for_timeout(2000)  # a box replaced after it was typed into would lose the text
    box.fill("/etc/passwd")
    box.press("Enter")
    page.get_by_role("button", name="Load", exact=True).click()
    refusal = page.get_by_text("reads files only under its data folders", exact=False)
    refusal.first.wait_for(timeout=300_000)
    page.screenshot(path=str(tmp_path / "refused.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "EXPLORER_DATA_DIRS" in page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    assert page.get_by_text("root:x:0:0", exact=False).count() == 0


def test_the_search_page_answers_at_slash_search_too(app_url, browser):
    """/search is where people look for the Search page (served at the root): it leads there, no 'Page not found'."""
    first = browser.new_page(viewport={"width": 1400, "height": 1200})
    first.goto(app_url)  # a server's very first session cannot name any page yet; that is not what this is about
    first.get_by_label("Query").wait_for(timeout=300_000)
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(app_url + "search")
    page.get_by_label("Query").wait_for(timeout=300_000)
    page.wait_for_timeout(1000)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_role("heading", name="Relevance explorer").count() == 1


def test_the_milvus_page_attaches_a_collection_and_search_ranks_what_it_returns(
        app_url, browser, sample, bi_encoder, embedding_cache, tmp_path):
    from explorer.retrieval.embedding import embed_corpus
    from explorer.retrieval.milvus_connection import MilvusTarget, connect, disconnect
    from tests.milvus_support import UserCollection, create_user_collection

    folder = tmp_path / "theirs.db"  # under the temporary folder, one the app may read
    shape = UserCollection("handbook", id_field="key", title_field="heading", text_field="body", tag_field="team",
                           vector_field="vec")
    vectors = embed_corpus(bi_encoder, [d.full_text for d in sample.documents], embedding_cache).vectors
    target = MilvusTarget(str(folder))
    create_user_collection(connect(target), shape, sample.documents, vectors, lambda row: "ops" if row % 2 else "dev")
    disconnect(target)  # milvus-lite serves one process: the app's server opens the folder next

    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    page.goto(app_url)
    page.get_by_role("link", name="Milvus").click()
    page.get_by_role("textbox", name="Milvus URI").wait_for(timeout=300_000)
    settle(page)
    page.get_by_role("textbox", name="Milvus URI").fill(str(folder))
    page.get_by_role("textbox", name="Collection to attach", exact=False).fill("handbook")
    page.get_by_role("button", name="Read the collection").click()
    wait_for_text(page, f"Collection handbook: {len(sample.documents)} rows", timeout=120)
    settle(page)
    assert drawn_grid_texts(page, 0)[:3] == ["key", "VARCHAR", ""]  # the schema: field, type, dimension, primary key
    page.get_by_role("textbox", name="Filter (optional)").fill('team == "ops"')
    page.get_by_role("button", name="Attach and use it as the first stage").click()
    wait_for_text(page, "Attached handbook", timeout=120)
    page.screenshot(path=str(tmp_path / "milvus.png"), full_page=True)
    no_error_on(page)

    page.get_by_role("link", name="Search").click()
    wait_for_text(page, "Collection handbook", timeout=300)
    page.locator('[data-testid="stDataFrame"]').nth(1).wait_for(timeout=300_000)  # both stages' tables
    settle(page)
    page.screenshot(path=str(tmp_path / "search_on_milvus.png"), full_page=True)
    no_error_on(page)
    shown = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    assert any('team == "ops"' in text for text in shown), shown
    first_stage = grid_texts(page, 0)
    ops = {d.title for row, d in enumerate(sample.documents) if row % 2}
    titles = [text for text in first_stage if text in {d.title for d in sample.documents}]
    assert len(titles) >= 10 and set(titles) <= ops  # the filter kept ops documents only


def evaluate_page_at_depth(page, steps: int) -> str:
    """Opens the Evaluate page and moves the depth slider to its least and ``steps`` steps up, as a person would;
    the depth it then shows."""
    page.get_by_role("link", name="Evaluate").click()
    page.get_by_role("button", name="Run the evaluation").wait_for(timeout=300_000)
    settle(page)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Candidate depth k")
    slider.get_by_role("slider").press("Home")
    settle(page)
    for _ in range(steps):
        slider.get_by_role("slider").press("ArrowRight")
        settle(page)
    return slider.locator('[data-testid="stSliderThumbValue"]').inner_text()


HOSTILE_A = ('Reset the VPN token from the portal <script>alert("a")</script> & <b>bold</b>. '
             'The token expires after <img src=x onerror=alert(1)> ninety days. Call the help desk if it fails.')
HOSTILE_B = ('VPN tokens <i>are</i> issued once. </textarea><script>alert("b")</script> Ask for a new one. '
             'The coffee machine is on the third floor.')


def hostile_folder(folder):
    """A BEIR folder whose two VPN documents carry HTML and JavaScript, with a labelled query about them."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    documents = [("a", "Resetting a <em>VPN</em> token", HOSTILE_A), ("b", "VPN tokens", HOSTILE_B),
                 ("c", "Lunch menu", "Soup and bread on Mondays. Pasta on Fridays."),
                 ("d", "Printers", "The printer on floor two jams often. Use the one on floor three.")]
    with (folder / "corpus.jsonl").open("w") as out:
        for doc_id, title, text in documents:
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "how do I reset my vpn token"}) + "\n")
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ta\t2\nq1\tb\t1\n")
    return folder


def test_why_a_above_b_opens_from_the_search_page_and_shows_html_as_text(app_url, browser, tmp_path):
    import tempfile
    from pathlib import Path
    from urllib.parse import quote

    folder = hostile_folder(Path(tempfile.mkdtemp(prefix="hostile-beir-")))
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    outside = block_the_network(page)
    page.goto(f"{app_url}?data=folder&folder={quote(str(folder))}&q={quote('how do I reset my vpn token')}")
    page.wait_for_selector(".js-plotly-plot", timeout=300_000)
    settle(page)
    # select the reranked list's first row (the row marker at its left), then ask why it scored as it did
    grid = page.locator('[data-testid="stDataFrame"]').nth(1)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)
    button = page.get_by_role("button", name="what moved", exact=False)
    deadline = time.time() + 60
    while button.is_disabled():
        assert time.time() < deadline, "selecting a row did not enable the button"
        page.wait_for_timeout(300)
    button.click()
    wait_for_text(page, "See why: what moved the score", timeout=300)
    page.get_by_role("tab", name="Why A above B").click()
    wait_for_text(page, "A is above B by", timeout=300)
    frames = page.locator('iframe[srcdoc*="<mark"]')
    deadline = time.time() + 60
    while frames.count() < 3:  # A's pieces on the first tab, then A and B side by side
        assert time.time() < deadline, "the marked documents did not draw"
        page.wait_for_timeout(300)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "why_a_above_b.png"), full_page=True)
    no_error_on(page)
    for index in range(frames.count()):
        frame = page.frame_locator('iframe[srcdoc*="<mark"]').nth(index)
        body = frame.locator("body")
        assert frame.locator("b, i, img, em, textarea").count() == 0  # shown as text, none of it markup
        assert frame.locator("script", has_text="alert").count() == 0  # (Streamlit's own sizing script aside)
        assert "<script>" in body.inner_text() or "</textarea>" in body.inner_text() or "<img" in body.inner_text()
    page.get_by_role("tab", name="Why did it move").click()
    wait_for_text(page, "First stage (bi-encoder cosine", timeout=300)
    settle(page)
    no_error_on(page)
    page.close()  # the server is idle again: nothing of this page runs on while the suite goes on
    assert dialogs == []
    # nothing asked of the network but Streamlit's own icon images (blocked here; the page draws without them)
    assert [url for url in outside if not url.startswith("https://fonts.gstatic.com/")] == []
