"""How reranking moved each candidate: rank change and the move label shown beside it."""

from __future__ import annotations


def rank_change(first_stage_rank: int, reranked_rank: int) -> int:
    """Positive when the reranker moved the document up (to a smaller rank number)."""
    return first_stage_rank - reranked_rank


def describe_move(first_stage_rank: int, reranked_rank: int, top_n: int) -> str:
    """'new in top 10' when the document entered the shown top n; else 'up 3', 'down 2' or 'same'."""
    if reranked_rank <= top_n < first_stage_rank:
        return f"new in top {top_n}"
    change = rank_change(first_stage_rank, reranked_rank)
    if change > 0:
        return f"up {change}"
    if change < 0:
        return f"down {-change}"
    return "same"
