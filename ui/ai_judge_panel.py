"""The parts of the AI judge page (pages/14_AI_judge.py): the endpoint, the prompt, the check against people, the
pools to grade and the choice to count the judge's grades as labels.

Everything the judge says (its reasons, refusals) and everything from the data (query text, document ids) reaches
a markdown element only through ``markdown_literal``; tables and the system message are shown as plain text. The
key is never shown: only whether its variable is set (``llm_key_status``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.judging import ai_judge
from explorer.judging.ai_agreement import AIAgreement, ai_agreement, recommendation
from explorer.judging.datasets import dataset_key
from explorer.judging.pool import judging_pool, labelled_elsewhere
from explorer.judging.scale import JudgingScale, scale_of
from explorer.judging.store import JudgementStore
from explorer.records import Dataset
from explorer.remote.chat import ChatEndpoint, open_chat
from explorer.remote.llm_names import check_host_allowed, llm_key_status
from explorer.remote.llm_prompts import DEFAULT_INSTRUCTIONS, JudgePrompt
from explorer.settings import Settings
from explorer.views.ai_judge_charts import confusion_figure
from ui import cache, evaluations
from ui.page_start import split_picker
from ui.plain_text import markdown_literal
from ui.sidebar import SidebarChoices

Pair = tuple[str, str]
SAMPLE_SEED = 0  # the same sample of queries for every prompt version, so that versions compare on the same pairs
MAX_CONCURRENCY = 64
# the page's widgets whose values are kept when another page runs (ui.kept_state)
KEPT = ("aij_url", "aij_model", "aij_concurrency", "aij_price_in", "aij_price_out", "aij_instructions", "aij_split",
        "aij_sample", "aij_pool_queries", "aij_pool_depth")
LAST_RUNS = "_aij_last_runs"  # what each section's last run did, shown again on the reruns that follow it
COUNT_ERROR = "_aij_count_error"  # an error from ticking a "count as labels" box (its callback cannot draw it)
VERDICT_WORDS = {"use": "Use its grades", "care": "Use its grades with care", "against": "Do not use its grades"}
DISAGREEMENTS_SHOWN = 200


@dataclass(frozen=True)
class JudgeContext:
    """What every part of the page reads: the judgements store and the data set's key in it, the data set with its
    own labels (``own``) and with the judgements made here merged in (``labelled``: its splits and typed queries),
    its judging scale, and the server's settings."""

    store: JudgementStore
    key: str
    own: Dataset
    labelled: Dataset
    scale: JudgingScale
    settings: Settings


def defaults(settings: Settings, data: Dataset) -> dict[str, object]:
    """The page's widget values before the user changes them."""
    return {"aij_url": settings.llm_url, "aij_model": settings.llm_model,
            "aij_concurrency": min(MAX_CONCURRENCY, max(1, settings.llm_concurrency)), "aij_price_in": 0.0,
            "aij_price_out": 0.0, "aij_instructions": DEFAULT_INSTRUCTIONS,
            "aij_split": "test" if "test" in data.splits else data.splits[0], "aij_sample": 10,
            "aij_pool_queries": 10, "aij_pool_depth": 10}


def price_or_none(value: float | None) -> float | None:
    """A price typed on the page: None (no price set) for 0 or nothing."""
    return float(value) if value else None


# ---- 1. the endpoint --------------------------------------------------------------------------------------------

def endpoint_inputs(settings: Settings) -> ChatEndpoint | None:
    """The endpoint's widgets; the endpoint they name, or None after saying (as an info or an error) why there is
    none. A host that whoever runs the server did not allow is refused before anything is sent."""
    left, middle, right = st.columns([3, 2, 1])
    base_url = left.text_input("Base URL of an OpenAI-compatible chat endpoint", key="aij_url",
                               help="Without /chat/completions, e.g. https://api.openai.com/v1, or "
                                    "http://127.0.0.1:11434/v1 for Ollama. Only EXPLORER_LLM_URL's host and the "
                                    "hosts in EXPLORER_LLM_HOSTS are allowed.")
    model = middle.text_input("Model", key="aij_model", placeholder="e.g. gpt-4o-mini, or llama3.1:8b on Ollama")
    concurrency = right.number_input("Requests in flight", 1, MAX_CONCURRENCY, step=1, key="aij_concurrency")
    left, right = st.columns(2)
    price_in = left.number_input("Price in USD per 1M input tokens (0: not set)", 0.0, 1000.0, step=0.05,
                                 format="%.3f", key="aij_price_in")
    price_out = right.number_input("Price in USD per 1M output tokens (0: not set)", 0.0, 1000.0, step=0.05,
                                   format="%.3f", key="aij_price_out")
    st.caption(markdown_literal(llm_key_status(settings)) + " The key is read from the server's environment only.")
    if not model.strip():
        st.info("Type the model the endpoint should run (or start the server with EXPLORER_LLM_MODEL set).")
        return None
    try:
        endpoint = ChatEndpoint.from_settings(settings, base_url=base_url.strip() or settings.llm_url,
                                              model=model.strip(), concurrency=int(concurrency),
                                              usd_per_million_input=price_or_none(price_in),
                                              usd_per_million_output=price_or_none(price_out))
        check_host_allowed(endpoint.base_url, settings)
    except ExplorerError as exc:
        st.error(str(exc))
        return None
    return endpoint


# ---- 2. the prompt ----------------------------------------------------------------------------------------------

def _default_instructions() -> None:
    """The reset button's callback: the default instructions back in the text area."""
    st.session_state["aij_instructions"] = DEFAULT_INSTRUCTIONS


def prompt_editor(scale: JudgingScale, guidelines: str) -> JudgePrompt:
    """The instructions to edit, the prompt's version and its whole system message; the prompt they make."""
    instructions = st.text_area("Instructions to the judge", key="aij_instructions", height=120,
                                help="Yours to refine. The scale, the guidelines, the rule that the query and the "
                                     "document are data (never instructions) and the answer format are added "
                                     "below them by the explorer, so an edit cannot drop them.")
    prompt = ai_judge.judge_prompt(scale, guidelines, instructions.strip() or DEFAULT_INSTRUCTIONS)
    left, right = st.columns([3, 1])
    left.caption(f"Prompt version **{prompt.version}**: its grades and answers are kept under it, so each edit is "
                 f"checked on its own. Scale: {markdown_literal(scale.name)}. "
                 + ("The data set's judging guidelines are part of it; edit them on the Judge page (a change makes "
                    "a new version)." if guidelines.strip() else
                    "No judging guidelines are written for this data set yet; write them on the Judge page "
                    "(under 'Judging guidelines for this data set') and they become part of the prompt."))
    right.button("Default instructions", key="aij_instructions_reset", on_click=_default_instructions)
    with st.expander("The whole system message sent with each pair"):
        st.code(prompt.system(), language=None, wrap_lines=True)
    return prompt


# ---- what is graded, and how ------------------------------------------------------------------------------------

def own_qrels(data: Dataset) -> dict[str, dict[str, int]]:
    """Every labelled query's own labels, from whichever split holds them."""
    return {query_id: data.labels_for(query_id) for qrels in data.qrels_by_split.values() for query_id in qrels}


def people_labels(context: JudgeContext, split: str | None = None) -> dict[Pair, int]:
    """The people's grade of each pair they graded (the data set's own labels, with grades given here by people in
    their place; never an AI rater's), of ``split``'s queries or of every query."""
    if split is None:
        return ai_judge.human_labels(own_qrels(context.own), context.store.judgements(context.key))
    qrels = context.own.qrels_by_split.get(split, {})
    queries = set(context.labelled.qrels_by_split.get(split, {})) | set(qrels)  # with the queries judged here
    human = ai_judge.human_labels(qrels, context.store.judgements(context.key))
    return {pair: grade for pair, grade in human.items() if pair[0] in queries}


def grade_with_progress(pairs: Sequence[ai_judge.JudgePair], endpoint: ChatEndpoint, prompt: JudgePrompt,
                        context: JudgeContext) -> ai_judge.JudgeRun:
    """Grades ``pairs`` (each grade saved as it arrives) with a progress bar; the connections are closed however the
    run ends (a rerun of the page stops it: the grades already saved stay, and its answers are cached)."""
    bar = st.progress(0.0, text=f"graded 0 of {len(pairs)} pairs, estimating the time left")

    def progress(done: int, total: int, left: str) -> None:
        bar.progress(done / max(total, 1), text=f"graded {done} of {total} pairs, " + ("done" if done >= total
                                                                                         else left))

    client = open_chat(endpoint, context.settings.llm_api_key)
    try:
        return ai_judge.run(pairs, client, prompt, context.store, context.key, cache.answer_cache(), progress)
    finally:
        client.close()
        bar.empty()


def keep_run(section: str, result: ai_judge.JudgeRun) -> None:
    """Keeps what a run did, to show again on the reruns that follow (until the next run of ``section``)."""
    problems = [{"query id": query_id, "doc id": doc_id, "outcome": answer.outcome,
                 "why": answer.refusal or answer.failure}
                for (query_id, doc_id), answer in [*result.refused.items(), *result.failed.items()]]
    st.session_state.setdefault(LAST_RUNS, {})[section] = (result.summary, problems)


def show_last_run(section: str) -> None:
    """What the section's last run in this session did: its summary, and the pairs refused or failed."""
    kept = st.session_state.get(LAST_RUNS, {}).get(section)
    if kept is None:
        return
    summary, problems = kept
    (st.warning if problems else st.success)(markdown_literal(summary))
    if problems:
        st.dataframe(pd.DataFrame(problems), hide_index=True, key=f"aij_{section}_problems")


def run_button(section: str, label: str, pairs: Sequence[ai_judge.JudgePair], endpoint: ChatEndpoint,
               prompt: JudgePrompt, context: JudgeContext) -> None:
    """The plan of grading ``pairs`` (calls, tokens, cost) before anything is sent, and the button that runs it."""
    estimate = ai_judge.plan(pairs, prompt, endpoint, cache.answer_cache())
    st.caption(markdown_literal(f"Plan: {estimate.summary}"))
    if st.button(label, type="primary", key=f"aij_{section}_run", disabled=not pairs):
        try:
            keep_run(section, grade_with_progress(pairs, endpoint, prompt, context))
        except ExplorerError as exc:
            st.error(str(exc))
        else:
            st.rerun()  # the whole page again, from the store: the pools, the agreement and the raters below
    show_last_run(section)


# ---- 3. the check against people --------------------------------------------------------------------------------

def disagreement_table(agreement: AIAgreement, data: Dataset) -> pd.DataFrame:
    """The pairs graded otherwise, the farthest first, with the query's text and the judge's reason."""
    rows = [{"query id": found.query_id,
             "query text": data.queries[found.query_id].text if found.query_id in data.queries else "",
             "doc id": found.doc_id, "people": found.human, "AI": found.ai, "reason": found.reason}
            for found in agreement.disagreements[:DISAGREEMENTS_SHOWN]]
    return pd.DataFrame(rows, columns=["query id", "query text", "doc id", "people", "AI", "reason"])


def grades_by_version(store: JudgementStore, key: str, rater: str) -> dict[str, dict[Pair, tuple[int, str]]]:
    """An AI rater's grades by prompt version, the version graded with most recently first."""
    found: dict[str, dict[Pair, tuple[int, str]]] = {}
    latest: dict[str, float] = {}
    for judgement in store.judgements(key, rater=rater):
        version, reason = ai_judge.read_note(judgement.note)
        found.setdefault(version, {})[(judgement.query_id, judgement.doc_id)] = (judgement.grade, reason)
        latest[version] = max(latest.get(version, 0.0), judgement.at)
    return {version: found[version] for version in sorted(found, key=lambda v: -latest[v])}


def versions_table(graded: Mapping[str, Mapping[Pair, tuple[int, str]]], human: Mapping[Pair, int], rater: str,
                   grades: Sequence[int], current: str) -> pd.DataFrame:
    """For each prompt version: the pairs it graded, those of them with a person's label, and its weighted kappa
    against the people on those (no bootstrap here: the check above gives the interval of the current one)."""
    rows = []
    for version, found in graded.items():
        agreement = ai_agreement(rater, found, human, grades, samples=0)
        rows.append({"prompt version": version or "(not named)", "this prompt": version == current,
                     "pairs graded": len(found), "pairs with a person's label": agreement.pairs,
                     "weighted kappa": agreement.kappa, "same grade": agreement.exact if agreement.pairs else None})
    return pd.DataFrame(rows, columns=["prompt version", "this prompt", "pairs graded", "pairs with a person's label",
                                       "weighted kappa", "same grade"])


def show_agreement(agreement: AIAgreement, data: Dataset) -> None:
    """The agreement: its verdict and summary, the confusion matrix and the disagreements with the reasons."""
    box: Callable[[str], object] = {"use": st.success, "care": st.warning}.get(agreement.verdict, st.error)
    box(f"**{VERDICT_WORDS[agreement.verdict]}.** " + markdown_literal(agreement.summary))
    if not agreement.pairs:
        return
    left, right = st.columns([1, 2])
    with left:
        st.plotly_chart(confusion_figure(agreement), key="aij_confusion")
    with right:
        st.markdown(f"**Disagreements** ({len(agreement.disagreements):,}, the farthest first)")
        st.dataframe(disagreement_table(agreement, data), hide_index=True, key="aij_disagreements",
                     column_config={"reason": st.column_config.TextColumn("reason", width="large")})


def check_against_people(context: JudgeContext, endpoint: ChatEndpoint, prompt: JudgePrompt) -> str:
    """The sample of judged queries, its plan and run, and the agreement of this prompt's grades with the people on
    it (read back from the store, so a reload shows it again); the split chosen."""
    left, right = st.columns([2, 1])
    split = split_picker(context.labelled, "aij_split", left)
    sample = int(right.number_input("Queries to sample", 1, 100_000, step=1, key="aij_sample",
                                    help="Judged queries drawn at random (always the same draw for the same labels), "
                                         "each with every pair people graded."))
    human = people_labels(context, split)
    chosen = ai_judge.sample_of_labelled(human, sample, SAMPLE_SEED)
    pairs = ai_judge.judge_pairs(chosen, context.labelled)
    st.caption(f"{len({pair.query_id for pair in pairs}):,} of the {len({q for q, _ in human}):,} judged queries of "
               f"'{markdown_literal(split)}', with the {len(pairs):,} pairs people graded.")
    if not pairs:
        st.info("No pairs people graded in this split: choose another split, or judge some on the Judge page.")
        return split
    run_button("sample", "Grade the sample", pairs, endpoint, prompt, context)
    rater = ai_judge.ai_rater(endpoint.model)
    stored = ai_judge.stored_grades(context.store, context.key, rater, prompt.version)
    on_sample = {pair: stored[pair] for pair in chosen if pair in stored}
    if on_sample:
        st.markdown(f"**{markdown_literal(rater)} with prompt {prompt.version} against the people** "
                    f"({len(on_sample):,} of the {len(pairs):,} sampled pairs graded)")
        show_agreement(ai_agreement(rater, on_sample, human, context.scale.grades), context.labelled)
    else:
        st.caption(f"{markdown_literal(rater)} has not graded this sample with prompt {prompt.version} yet.")
    graded = grades_by_version(context.store, context.key, rater)
    if graded:
        st.markdown("**Prompt versions tried** (each against every pair people graded in this data set)")
        table = versions_table(graded, people_labels(context), rater, context.scale.grades, prompt.version)
        st.dataframe(table, hide_index=True, key="aij_versions",
                     column_config={"weighted kappa": st.column_config.NumberColumn(format="%.3f"),
                                    "same grade": st.column_config.NumberColumn(format="percent")})
    return split


# ---- 4. the pools -----------------------------------------------------------------------------------------------

def pool_pairs(context: JudgeContext, lists: Mapping[str, Sequence[Sequence[str]]], depth: int,
               rater: str, version: str) -> list[Pair]:
    """The (query, document) pairs in the top ``depth`` of each query's ranked ``lists`` that have no label yet (in
    the data set's own labels or from a rater here) and that ``rater`` has not graded with prompt ``version``."""
    done = ai_judge.stored_grades(context.store, context.key, rater, version)
    chosen = []
    for query_id, rankings in lists.items():
        labelled = labelled_elsewhere(context.own.labels_for(query_id),
                                      context.store.judgements(context.key, query_id), rater)
        graded = {doc_id for q, doc_id in done if q == query_id}
        chosen += [(query_id, doc_id) for doc_id in sorted(judging_pool(query_id, rater, rankings, depth,
                                                                        leave_out=labelled | graded))]
    return chosen


def grade_the_pools(context: JudgeContext, choices: SidebarChoices, split: str, endpoint: ChatEndpoint,
                    prompt: JudgePrompt) -> None:
    """The unlabelled documents the sidebar's pipeline puts in its top n (first stage and reranked list) for a
    sample of the split's queries, planned, then graded."""
    left, right = st.columns(2)
    count = int(left.number_input("Queries of the split", 1, 100_000, step=1, key="aij_pool_queries",
                                  help="Drawn at random from the split's queries (always the same draw)."))
    depth = int(right.number_input("Pool: top n of each stage", 1, 100, step=1, key="aij_pool_depth"))
    try:
        request = evaluations.request_from(choices, split)
    except ExplorerError as exc:
        st.error(str(exc))
        return
    stages = request.spec.first_stage_method + (f" and the reranker {request.spec.reranker_name}"
                                                if request.spec.reranker_name else " (no reranker in the sidebar)")
    if not evaluations.was_requested(request):
        st.caption(markdown_literal(f"The ranked lists come from an evaluation of '{split}' with the sidebar's "
                                    f"pipeline ({stages}, depth {request.spec.depth}): every query of the split is "
                                    "ranked once, then read back."))
        if not st.button("Rank the split's queries", key="aij_pool_rank"):
            return
    try:
        evaluation = evaluations.run(request)
    except ExplorerError as exc:
        st.error(str(exc))
        return
    chosen = set(ai_judge.sampled_queries(list(evaluation.query_texts), count, SAMPLE_SEED))
    stage_lists = [evaluation.ranked(stage) for stage in evaluation.stages()]
    lists = {query_id: [ranked.get(query_id, []) for ranked in stage_lists] for query_id in sorted(chosen)}
    rater = ai_judge.ai_rater(endpoint.model)
    pairs = ai_judge.judge_pairs(pool_pairs(context, lists, depth, rater, prompt.version), context.labelled)
    st.caption(f"{len(chosen):,} queries of '{markdown_literal(split)}', the top {depth} of "
               f"{len(stage_lists)} ranked list(s): {len(pairs):,} documents without a label that "
               f"{markdown_literal(rater)} has not graded with prompt {prompt.version}.")
    if not pairs:
        st.success("Nothing left to grade in these pools: raise n or the number of queries to grade more.")
        show_last_run("pools")
        return
    run_button("pools", "Grade the pools", pairs, endpoint, prompt, context)


# ---- 5. the grades as labels ------------------------------------------------------------------------------------

def latest_check(graded: Mapping[str, Mapping[Pair, tuple[int, str]]], human: Mapping[Pair, int], rater: str,
                 grades: Sequence[int]) -> tuple[str, AIAgreement | None]:
    """The most recent prompt version of ``graded`` that graded pairs people graded too, and its agreement with
    them; ("", None) when no version did."""
    for version, found in graded.items():
        if any(pair in human for pair in found):
            return version, ai_agreement(rater, found, human, grades)
    return "", None


def _set_counted(store: JudgementStore, key: str, rater: str, widget: str) -> None:
    """A "count as labels" box's callback: the store follows the box."""
    try:
        store.set_counted(key, rater, bool(st.session_state[widget]))
    except ExplorerError as exc:
        st.session_state[COUNT_ERROR] = str(exc)


def use_as_labels(context: JudgeContext) -> None:
    """A box for each AI rater of the data set: its grades count as labels only while ticked. A rater whose latest
    check against people advises against it (or that was never checked) gets a warning beside its box."""
    raters = context.store.ai_raters(context.key)
    error = st.session_state.pop(COUNT_ERROR, None)
    if error:
        st.error(error)
    if not raters:
        st.caption("No AI judge has graded this data set yet.")
        return
    st.caption("While a box is ticked, that judge's grades (of every prompt version) count as labels on every page "
               "that scores, where they fill holes only: a pair the data set's labels or a person here graded keeps "
               "the people's grade. People's grades always count.")
    counted = context.store.counted_ai(context.key)
    human = people_labels(context)
    for rater, count in raters.items():
        widget = f"aij_count_{rater}"
        st.session_state[widget] = rater in counted  # the store decides (another session may have changed it)
        left, right = st.columns([2, 3])
        left.checkbox(f"Count {markdown_literal(rater)}'s {count:,} grades as labels", key=widget,
                      on_change=_set_counted, args=(context.store, context.key, rater, widget))
        version, agreement = latest_check(grades_by_version(context.store, context.key, rater), human, rater,
                                          context.scale.grades)
        if agreement is None:
            right.warning(f"{markdown_literal(rater)} was never checked against people here, so its agreement is "
                          "unknown: counting its grades is not recommended. Check it under 'Check against people' "
                          "first.")
        elif agreement.verdict == "against":
            right.warning(f"Not recommended: the latest check of {markdown_literal(rater)} (prompt {version}) gives "
                          f"a weighted kappa of {agreement.kappa:.3f} over {agreement.pairs:,} pair(s). "
                          + markdown_literal(recommendation(agreement)))
        else:
            right.caption(f"Latest check (prompt {version}): weighted kappa {agreement.kappa:.3f} over "
                          f"{agreement.pairs:,} pair(s): {VERDICT_WORDS[agreement.verdict].lower()}.")


def context_of(choices: SidebarChoices, data: Dataset) -> JudgeContext:
    """The page's context for the sidebar's data set (``data``: with the judgements merged)."""
    store = cache.judgements()
    key = dataset_key(choices.dataset_path)
    own = cache.dataset(choices.dataset_path)
    return JudgeContext(store, key, own, data, scale_of(store, key, own), cache.settings())

