"""Tables for the two result columns: rank, score, label, move, title and snippet per candidate."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from explorer.grades import GradeScale
from explorer.pipeline import PipelineResult
from explorer.records import Dataset
from explorer.rerank.rank_shift import describe_move

SNIPPET_CHARS = 220


@dataclass(frozen=True)
class ResultTables:
    """The tables of the two result columns; with a threshold, the reranked rows are split at it."""

    first_stage: pd.DataFrame
    reranked: pd.DataFrame | None  # rows at or above the threshold (all rows when there is none)
    cut_off: pd.DataFrame | None  # reranked rows under the threshold, within the shown n
    threshold: float | None
    threshold_column: str  # "probability" or "score"


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` on one line, cut at the last word break within ``limit`` characters and marked " …" when longer."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def label_help(scale: GradeScale) -> str:
    """The label column's help, on the data set's own scale: "Graded relevance, grades 1-4 (4 the best), relevant
    from 1; blank if unjudged" on Cranfield."""
    return f"Graded relevance, {scale.describe()}; blank if unjudged"


def with_label_text(table: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: the graded label as text, blank (not "None") where the document is unjudged."""
    if "label" not in table.columns:
        return table
    return table.assign(label=[("" if pd.isna(v) else str(int(v))) for v in table["label"]])


def result_tables(result: PipelineResult, dataset: Dataset, labels: dict[str, int] | None,
                  top_n: int = 10, threshold: float | None = None) -> ResultTables:
    """Rows shown in the two columns. Labels are graded on the data set's scale; unjudged documents show as blank."""
    def describe(doc_id: str) -> dict[str, object]:
        doc = dataset.document(doc_id)
        label = labels.get(doc_id) if labels is not None else None
        return {"label": label, "title": doc.title or doc_id, "snippet": snippet(doc.text), "doc_id": doc_id}

    first = pd.DataFrame(
        [{"rank": hit.rank, "score": round(hit.score, 4), **describe(hit.doc_id)} for hit in result.first_stage[:top_n]],
        columns=["rank", "score", "label", "title", "snippet", "doc_id"],
    )
    if result.reranked is None:
        return ResultTables(first, None, None, None, "score")
    use_probability = result.reranker is not None and result.reranker.has_probability
    column = "probability" if use_probability else "score"
    rows = []
    for hit in result.reranked[:top_n]:
        by_main = hit.scored_by == "main"
        rows.append({
            "rank": hit.rank,
            "move": describe_move(hit.first_stage_rank, hit.rank, top_n),
            # with a cascade, a candidate only the small reranker read has no score of the reranker's
            "score": round(hit.score, 4) if by_main else None,
            "probability": round(hit.probability, 4) if hit.probability is not None and by_main else None,
            "blended": round(hit.fused_score, 4) if hit.fused_score is not None else None,
            "small score": round(hit.small_score, 4) if hit.small_score is not None else None,
            "first-stage rank": hit.first_stage_rank,
            **describe(hit.doc_id),
        })
    columns = ["rank", "move", "score", "probability", "blended", "small score", "label", "title", "snippet",
               "first-stage rank", "doc_id"]
    reranked = pd.DataFrame(rows, columns=columns)
    if not use_probability:
        reranked = reranked.drop(columns=["probability"])
    for optional in ("blended", "small score"):
        if reranked[optional].isna().all():
            reranked = reranked.drop(columns=[optional])
    if threshold is None:
        return ResultTables(first, reranked, None, None, column)
    # a candidate the reranker did not read (below a cascade's cut) cannot pass the reranker's threshold
    passes = reranked[column].notna() & (reranked[column] >= threshold)
    kept = reranked[passes].reset_index(drop=True)
    cut = reranked[~passes].reset_index(drop=True)
    return ResultTables(first, kept, cut, threshold, column)
