"""Story page: did the candidate beat the baseline? The gain with its interval, examples, the caveat and the cost."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.story import Example, ListedDocument, Story, StorySide, metric_label, stage_sides, tell
from explorer.evaluation.story_charts import change_distribution_figure, example_moves_figure
from explorer.evaluation.story_report import example_explanations, story_report
from explorer.explain.faithfulness import engine_scorer
from explorer.evaluation.comparison import configuration_names
from explorer.evaluation.html_report import report_file_name
from explorer.evaluation.run_cost import rerank_cost
from explorer.grades import GradeScale
from explorer.judging.datasets import dataset_key
from explorer.remote.prices import price_table, pricing
from explorer.views.search_charts import grade_colour
from ui import cache, evaluations
from ui.explain_link import open_explanation
from ui.page_start import split_picker, start_page
from ui.plain_text import markdown_literal
from ui.sidebar import FIRST_STAGE_LABELS, NO_RERANKER, RERANKERS, describe_model, speed_for_this_session

SEARCH_PAGE = "pages/0_Search.py"
STAGES = "The first stage against the reranked list (the sidebar's pipeline)"
CONFIGURATIONS, SNAPSHOTS = "Two configurations", "Two saved snapshots"
TOLD = "_story_told"  # the configurations whose story the user asked for (each is evaluated on request)
METRICS = ["ndcg@10", "mrr@10", "recall@100", "map@100", "precision@10"]

choices, data = start_page("Story", "Did it help, by how much, and can we trust it? The gain of a candidate over a "
                           "baseline on one labelled split, told for someone with two minutes: the difference with "
                           "its 95% interval, the biggest wins and losses, what each costs, and the caveat.",
                           needs_labels=True)

what = st.radio("Compare", [STAGES, CONFIGURATIONS, SNAPSHOTS], key="story_mode", horizontal=True)
left, middle, right = st.columns([2, 2, 1])
metric = middle.selectbox("Metric", METRICS, key="story_metric")
seed = right.number_input("Bootstrap seed", 0, 2**31 - 1, 0, key="story_seed",
                          help="The interval resamples the queries 10,000 times; the same seed, the same interval.")


def sides_from_snapshots() -> tuple[StorySide, StorySide]:
    """The baseline and candidate snapshots picked on the page (each its final list)."""
    store = cache.snapshots()
    names = store.names(dataset_key(choices.dataset_path))
    if len(names) < 2:
        st.info("Save two snapshots of this data set first (Save as a snapshot on the Evaluate page, or "
                "`eval --snapshot NAME`).")
        st.stop()
    before = left.selectbox("Baseline snapshot", names, index=len(names) - 1, key="story_baseline")
    after = left.selectbox("Candidate snapshot", [n for n in names if n != before], key="story_candidate")
    sides = []
    for name in (before, after):
        evaluation = store.get(name).evaluation
        sides.append(StorySide(evaluation, "reranked" if evaluation.has_reranker else "first_stage", name))
    return sides[0], sides[1]


def sides_from_stages() -> tuple[StorySide, StorySide]:
    """The first stage and the reranked list of the sidebar's pipeline on the split picked (evaluated on request)."""
    split = split_picker(data, "story_split", left)
    request = evaluations.request_from(choices, split)
    if request.spec.reranker_name is None:
        st.info("The sidebar's pipeline has no reranker, so there is one list only. Pick a reranker in the sidebar, "
                "or compare two snapshots.")
        st.stop()
    if not evaluations.was_requested(request):
        st.info(f"{len(data.labelled_queries(split))} labelled queries in '{split}' · {evaluations.describe(request)} "
                f"· depth {request.spec.depth}. An evaluation already run on the Evaluate page is read back at once.")
        if not st.button("Tell the story", type="primary", key="story_run"):
            st.stop()
    return stage_sides(evaluations.with_sidebar_signals(evaluations.run(request), request, choices.signals))


def configuration(column, role: str, first_stage: str, reranker: str) -> tuple[str, str | None]:
    """A first stage and a reranker picked in ``column`` (defaults as given)."""
    column.caption(role)
    methods, names = list(FIRST_STAGE_LABELS), list(dict.fromkeys(RERANKERS + [reranker]))
    method = column.selectbox("First stage", methods, index=methods.index(first_stage), key=f"story_{role}_first",
                              format_func=FIRST_STAGE_LABELS.get)
    name = column.selectbox("Reranker", names, index=names.index(reranker), key=f"story_{role}_reranker",
                            format_func=lambda value: describe_model(value, "reranker"))
    return method, None if name == NO_RERANKER else name


def sides_from_configurations() -> tuple[StorySide, StorySide]:
    """Two configurations of the sidebar's data set and depth, each evaluated on the split picked, each its final
    list: by default BM25 alone against the sidebar's pipeline."""
    split = split_picker(data, "story_split", left)
    before_column, after_column = st.columns(2)
    before = configuration(before_column, "Baseline", "bm25", NO_RERANKER)
    after = configuration(after_column, "Candidate", choices.first_stage_method, choices.reranker or NO_RERANKER)
    requests = [evaluations.request_from(choices, split, reranker=name, first_stage_method=method)
                for method, name in (before, after)]
    asked = st.session_state.setdefault(TOLD, set())
    if tuple(requests) not in asked:
        st.caption(rerank_cost(len(data.labelled_queries(split)), choices.depth, [n for _, n in (before, after)],
                               speed_for_this_session("reranker")).said())
        if not st.button("Tell the story", type="primary", key="story_run_two"):
            st.stop()
        asked.add(tuple(requests))
    sides = []
    for position, request in enumerate(requests):
        # the candidate is the sidebar's pipeline by default: its list is reordered by the sidebar's signals
        evaluation = evaluations.run(request)
        if position == 1:
            evaluation = evaluations.with_sidebar_signals(evaluation, request, choices.signals)
        stage = "reranked" if evaluation.has_reranker else "first_stage"
        sides.append(StorySide(evaluation, stage, configuration_names([evaluation]).short[0]))
    return sides[0], sides[1]


if choices.signals is not None and what != SNAPSHOTS:
    st.caption("The candidate's list is reordered by the sidebar's signals ("
               f"{markdown_literal(choices.signals.describe())}); turn "
               "'Mix in signals' off to tell the story of relevance alone.")
try:
    pick = {SNAPSHOTS: sides_from_snapshots, CONFIGURATIONS: sides_from_configurations}.get(what, sides_from_stages)
    baseline, candidate = pick()
    story = tell(baseline, candidate, metric, titles=data.title_of, seed=int(seed),
                 price=pricing(price_table(cache.settings())))
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()


def show_headline(story: Story) -> None:
    st.subheader(story.headline)
    verdict = markdown_literal(story.verdict)
    if story.significant:
        (st.success if story.difference > 0 else st.warning)(verdict)
    else:
        st.info(verdict)
    columns = st.columns(4)
    columns[0].metric(f"Baseline {metric_label(metric)}", f"{story.baseline_value:.3f}",
                      help=markdown_literal(story.baseline))
    columns[1].metric(f"Candidate {metric_label(metric)}", f"{story.candidate_value:.3f}", f"{story.difference:+.3f}",
                      help=markdown_literal(story.candidate))
    columns[2].metric("95% interval of the difference", f"{story.ci[0]:+.3f} to {story.ci[1]:+.3f}")
    columns[3].metric("Better / same / worse", f"{story.wins} / {story.ties} / {story.losses}")
    st.caption(markdown_literal(f"Baseline: {story.baseline}. Candidate: {story.candidate}. {story.note}"))
    if story.coverage_warning:
        st.warning(markdown_literal(story.coverage_warning))


def listed_table(documents: tuple[ListedDocument, ...], word: str, scale: GradeScale):
    """A list of an example as a table, its label cells coloured on the data set's grade scale."""
    rows = [{"rank": rank, "label": "–" if d.grade is None else str(d.grade),
             **({word: str(d.rank_in_other or "below")} if word else {}), "document": d.title}
            for rank, d in enumerate(documents, start=1)]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    colours = ["background-color: " + grade_colour(d.grade, scale) + "; color: white" for d in documents]
    return table.style.apply(lambda column: colours, subset=["label"])


def show_example(number: int, example: Example, scale: GradeScale) -> None:
    kind = "Gain" if example.kind == "win" else "Loss"
    st.markdown(f"**{kind} {example.change:+.3f}** ({example.baseline_value:.3f} → {example.candidate_value:.3f}): "
                + markdown_literal(f"“{example.query}” [{example.query_id}]"))
    columns = st.columns([3, 3, 3, 3])
    for column, title, documents, word in ((columns[0], "Baseline", example.baseline_top, "now"),
                                           (columns[1], "Candidate", example.candidate_top, "was"),
                                           (columns[2], "Ideal (best labels first)", example.ideal, "")):
        column.caption(title)
        column.dataframe(listed_table(documents, word, scale), hide_index=True, key=f"story_list_{number}_{title}")
    columns[3].plotly_chart(example_moves_figure(example, scale), key=f"story_moves_{number}")
    go_search, go_why = st.columns(2)
    if go_search.button("Open this query side by side on the Search page", key=f"story_open_{number}"):
        st.session_state["query"] = example.query
        st.session_state["picked_query"] = example.query_id
        st.switch_page(SEARCH_PAGE)
    top = example.candidate_top
    if top and go_why.button("See why the candidate's top result scored as it did", key=f"story_why_{number}"):
        open_explanation(example.query, top[0].doc_id, top[1].doc_id if len(top) > 1 else "")


show_headline(story)
scale = data.grade_scale
st.subheader("Examples: the biggest gains and losses")
if not story.examples:
    st.info("No query changed, so there is no example to show.")
for number, example in enumerate(story.examples):
    show_example(number, example, scale)

st.subheader("Cost")
cost = pd.DataFrame([{"side": name, "median ms per query": side.median_ms, "p95 ms per query": side.p95_ms,
                      "pairs scored per query": side.pairs_per_query,
                      "seconds per 1,000 queries": side.seconds_per_1000, "USD per 1,000 queries": side.usd_per_1000}
                     for name, side in ((story.baseline, story.baseline_cost),
                                        (story.candidate, story.candidate_cost))])
st.dataframe(cost.round(1), hide_index=True, key="story_cost")
for note in dict.fromkeys(n for n in (story.baseline_cost.note, story.candidate_cost.note) if n):
    st.caption(markdown_literal(note))

st.subheader("The caveat: documents nobody judged")
caveat = story.coverage
st.write(f"judged@{caveat.at}: {caveat.baseline_judged:.2f} of the baseline's top {caveat.at}, "
         f"{caveat.candidate_judged:.2f} of the candidate's. With unjudged documents removed from both lists the "
         f"difference is {caveat.difference_removed:+.3f} (95% CI {caveat.ci_removed[0]:+.3f} to "
         f"{caveat.ci_removed[1]:+.3f}).")
st.plotly_chart(change_distribution_figure(story), key="story_distribution")

explained = None
if choices.reranker and what == STAGES:  # the examples' top results, explained by the reranker that ranked them
    try:
        ranker = cache.reranker(choices.reranker, choices.device, choices.trust_remote_code)
        explained = example_explanations(story, engine_scorer(ranker), lambda doc_id: data.document(doc_id).full_text)
    except (ExplorerError, KeyError) as exc:
        st.caption(f"The report's examples are not explained: {exc}")
report = story_report(story, scale, candidate.evaluation.query_texts, explanations=explained)
st.download_button("Download the story (HTML, opens offline)", report,
                   file_name=report_file_name(data.name, "story", story.candidate), mime="text/html",
                   key="story_report")
