"""The story as one page a manager reads in two minutes: one self-contained HTML file, offline.

Its first screen holds the headline (the gain, its interval, the verdict) and the examples; then the cost, the
caveat about unjudged documents and the distribution of changes; the table of every query is folded at the end.
Every piece of text from the data (queries, titles, names) is escaped; the charts are drawn by the plotly.js the
page carries (``explorer.evaluation.html_report``), so it makes no network request.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Callable, Mapping, Sequence

import pandas as pd

from explorer.evaluation.html_report import ReportSection, chart_block, charts_script, table_html
from explorer.evaluation.story import Example, ListedDocument, SideCost, Story, metric_label
from explorer.evaluation.story_charts import change_distribution_figure, example_moves_figure
from explorer.explain.highlight import marked_fragment
from explorer.explain.occlusion import MAX_CALLS, Occlusion, Scorer, occlude
from explorer.explain.spans import sentence_spans
from explorer.grades import GradeScale
from explorer.views.number_format import change_text, metric_text, p_value_text
from explorer.views.search_charts import grade_colour, grade_name

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1180px;margin:1.2em auto;padding:0 1em;color:#1f2328}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #d0d7de}
p.note{color:#59636e;margin:.2em 0}.headline{font-size:1.45em;font-weight:600;margin:.5em 0 .2em}
.verdict{font-size:1.05em;margin:.2em 0 .6em}.warning{background:#fff8c5;border:1px solid #d4a72c;padding:.5em .8em}
.examples{display:grid;grid-template-columns:1fr 1fr;gap:12px}.example{border:1px solid #d0d7de;border-radius:6px;
padding:.5em .7em}.example h3{font-size:1em;margin:.1em 0 .4em}.lists{display:grid;grid-template-columns:1fr 1fr 1fr;
gap:8px;font-size:.82em}.lists ol{margin:0;padding-left:1.4em}.lists li{margin:.15em 0}.badge{display:inline-block;
min-width:1.2em;padding:0 .3em;border-radius:4px;color:#fff;font-weight:600;text-align:center;margin-right:.3em}
.move{color:#59636e}.win{color:#1a7f37}.loss{color:#cf222e}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right}th{background:#f6f8fa}
td:first-child,th:first-child{text-align:left}details{margin:1em 0}summary{cursor:pointer;font-weight:600}
mark{border-radius:3px;padding:0 1px;color:inherit}.marked{font-size:.9em;line-height:1.6}
@media (max-width:900px){.examples{grid-template-columns:1fr}}
"""


def example_explanations(story: Story, scorer: Scorer, document_text: Callable[[str], str],
                         ) -> dict[str, tuple[str, Occlusion]]:
    """For each example, its candidate's top document occluded sentence by sentence with ``scorer`` (the reranker):
    query id -> (the document's text, the occlusion). Examples whose document has no text are left out."""
    explained = {}
    for example in story.examples:
        if not example.candidate_top:
            continue
        text = document_text(example.candidate_top[0].doc_id)
        spans = sentence_spans(text)
        if spans and len(spans) < MAX_CALLS:
            explained[example.query_id] = (text, occlude(scorer, example.query, text, spans))
    return explained


def story_report(story: Story, scale: GradeScale, query_texts: dict[str, str] | None = None,
                 generated: dt.datetime | None = None, appendix: Sequence[ReportSection] = (),
                 every_query: pd.DataFrame | None = None, title: str = "",
                 explanations: Mapping[str, tuple[str, Occlusion]] | None = None) -> str:
    """The story as one HTML page (see the module's docstring); ``appendix``: sections for the reader who wants more
    (metrics, thresholds), after the story; ``every_query``: the folded table (by default each query's values);
    ``explanations``: query id -> its example's top document and its occlusion (``example_explanations``)."""
    generated = generated or dt.datetime.now(dt.timezone.utc)
    label = metric_label(story.metric)
    e = html.escape
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>{e(title or f'{story.candidate} against {story.baseline}')}</title>", f"<style>{_STYLE}</style>",
             "</head><body>",
             f"<h1>Does {e(story.candidate)} beat {e(story.baseline)}?</h1>",
             f"<p class='note'>Split '{e(story.split)}', {story.queries} labelled queries, {e(label)}. "
             + (f"{e(story.note)} " if story.note else "")
             + f"Generated {e(generated.strftime('%Y-%m-%d %H:%M UTC'))} by the relevance explorer.</p>",
             f"<p class='headline'>{e(story.headline)}</p>", f"<p class='verdict'>{e(story.verdict)}</p>",
             f"<p class='note'>{story.wins} better, {story.ties} the same, {story.losses} worse. The interval is a "
             f"paired bootstrap over queries ({story.level:.0%}, seed {story.seed}); the paired t-test's p-value is "
             f"{e(p_value_text(story.p_value))}.</p>"]
    if story.coverage_warning:
        parts.append(f"<p class='warning'>{e(story.coverage_warning)}</p>")
    charts = 0
    if story.examples:
        parts.append(f"<h2>Examples: the biggest gains and losses</h2><div class='examples'>")
        for example in story.examples:
            charts += 1
            parts.append(_example_html(example, scale, story, charts, (explanations or {}).get(example.query_id)))
        parts.append("</div>")
    parts += ["<h2>Cost</h2>", table_html(_cost_table(story))]
    notes = [note for note in (story.baseline_cost.note, story.candidate_cost.note) if note]
    parts += [f"<p class='note'>{e(note)}</p>" for note in dict.fromkeys(notes)]
    caveat = story.coverage
    parts += ["<h2>Caveat: documents nobody judged</h2>",
              f"<p>judged@{caveat.at}: {caveat.baseline_judged:.2f} of the baseline's top {caveat.at}, "
              f"{caveat.candidate_judged:.2f} of the candidate's. With unjudged documents removed from both lists the "
              f"difference is {e(change_text(caveat.difference_removed))} ({story.level:.0%} CI "
              f"{e(change_text(caveat.ci_removed[0]))} to {e(change_text(caveat.ci_removed[1]))}).</p>"]
    charts += 1
    parts += ["<h2>Every query's change</h2>", chart_block(change_distribution_figure(story), charts)]
    for section in appendix:
        parts.append(f"<h2>{e(section.title)}</h2>")
        parts += [f"<p>{e(paragraph)}</p>" for paragraph in section.text.split("\n\n") if paragraph]
        if section.table is not None:
            parts.append(table_html(section.table))
        if section.figure is not None:
            charts += 1
            parts.append(chart_block(section.figure, charts))
    table = every_query if every_query is not None else _per_query_table(story, query_texts or {})
    parts += [f"<details><summary>Every query ({len(table)} rows)</summary>", table_html(table), "</details>",
              charts_script(), "</body></html>"]
    return "\n".join(parts)


def _example_html(example: Example, scale: GradeScale, story: Story, number: int,
                  explained: tuple[str, Occlusion] | None) -> str:
    e = html.escape
    kind = "Gain" if example.kind == "win" else "Loss"
    heading = (f"<h3><span class='{example.kind}'>{kind} {e(change_text(example.change))}</span> "
               f"({e(metric_text(example.baseline_value))} → {e(metric_text(example.candidate_value))}): "
               f"“{e(example.query[:160])}” <span class='move'>[{e(example.query_id)}]</span></h3>")
    columns = [(f"Baseline: {story.baseline}", example.baseline_top, "now"),
               (f"Candidate: {story.candidate}", example.candidate_top, "was"),
               ("Ideal (best labels first)", example.ideal, "")]
    lists = "".join(f"<div><b>{e(title[:60])}</b><ol>{''.join(_item(d, scale, word) for d in docs)}</ol></div>"
                    for title, docs, word in columns)
    figure = example_moves_figure(example, scale, "baseline", "candidate")
    why = ""
    if explained is not None:
        text, occluded = explained
        why = (f"<details><summary>Why the candidate's top result scored {occluded.score:.3f}</summary>"
               "<p class='note'>Each sentence taken out and the pair scored again: green sentences raise the score, "
               "red ones lower it, darker for more.</p>"
               f"<p class='marked'>{marked_fragment(text, [(e.span, e.drop) for e in occluded.effects], 'drop')}"
               "</p></details>")
    return (f"<div class='example'>{heading}<div class='lists'>{lists}</div>{chart_block(figure, number)}{why}"
            "</div>")


def _item(document: ListedDocument, scale: GradeScale, word: str) -> str:
    e = html.escape
    grade = "–" if document.grade is None else str(document.grade)
    badge = (f"<span class='badge' style='background:{grade_colour(document.grade, scale)}' "
             f"title='{e(grade_name(document.grade, scale))}'>{e(grade)}</span>")
    move = ""
    if word:
        move = (f" <span class='move'>({word} {document.rank_in_other})</span>" if document.rank_in_other
                else f" <span class='move'>({word} below)</span>")
    title = " ".join(document.title.split())[:90] or document.doc_id
    return f"<li>{badge}{e(title)}{move}</li>"


def _cost_table(story: Story) -> pd.DataFrame:
    sides = ((story.baseline, story.baseline_cost), (story.candidate, story.candidate_cost))
    priced = any(cost.usd_per_1000 is not None for _, cost in sides)
    return pd.DataFrame([_cost_row(name, cost, priced) for name, cost in sides])


def _cost_row(name: str, cost: SideCost, priced: bool) -> dict[str, object]:
    """One side's cost, written as the page writes it (whole pairs, milliseconds to a tenth)."""
    row: dict[str, object] = {
        "side": name, "median per query": f"{cost.median_ms:,.1f} ms", "p95 per query": f"{cost.p95_ms:,.1f} ms",
        "pairs scored per query": f"{cost.pairs_per_query:,.0f}",
        "time per 1,000 queries (this machine)": _duration(cost.seconds_per_1000)}
    if priced:
        row["price per 1,000 queries"] = "" if cost.usd_per_1000 is None else f"${cost.usd_per_1000:,.2f}"
    return row


def _duration(seconds: float) -> str:
    """"18 s", "37 min", "2.1 h"."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _per_query_table(story: Story, query_texts: dict[str, str]) -> pd.DataFrame:
    label = metric_label(story.metric)
    ordered = sorted(story.values.items(), key=lambda item: (item[1][1] - item[1][0], item[0]))
    return pd.DataFrame([{"query": query_id, "text": query_texts.get(query_id, "")[:120], f"baseline {label}": before,
                          f"candidate {label}": after, "change": after - before}
                         for query_id, (before, after) in ordered])
