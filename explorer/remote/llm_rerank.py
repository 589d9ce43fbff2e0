"""LLM rerankers, so that "cross-encoder against LLM reranking" is measured on the user's own data:

- pointwise: each candidate graded 0-3 by the chat model (the AI judge's prompt), the grade its score; equal
  grades keep the first stage's order;
- listwise (RankGPT style): windows of ``window`` candidates, from the bottom of the list up in steps of ``step``,
  each reordered by the model (``[2] > [1] > [3]``); the best candidates bubble up to the top window. The score is
  the place in the final order (higher is better), so only the order means anything.

Both duck-type the engine that ``explorer.rerank.scoring.score_pairs`` uses, like a rerank API, and keep every
answer in the answer cache: a repeated evaluation asks nothing. The listwise scores of a document depend on the
other candidates, so ``whole_list`` tells the score cache not to keep them pair by pair.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from explorer.inference.backends import EngineInfo
from explorer.remote.answer_cache import AnswerCache, answer_key
from explorer.remote.chat import ChatClient
from explorer.remote.engine import RemoteEngine
from explorer.remote.llm_grading import grade_many
from explorer.remote.llm_names import LLMName
from explorer.remote.llm_prompts import (DEFAULT_INSTRUCTIONS, JudgePrompt, ListwisePrompt, MalformedAnswer,
                                         read_permutation)

logger = logging.getLogger(__name__)

POINTWISE_GRADES = (0, 1, 2, 3)
POINTWISE_WORDS = {0: "not relevant", 1: "related", 2: "relevant", 3: "the answer"}
FAILED_SCORE = -1.0  # a candidate the model would not or could not grade: ranked last
WINDOW, STEP = 20, 10


class LLMRerankEngine(RemoteEngine):
    """Ranks a query's candidates with a chat model, pointwise or listwise (see the module docstring)."""

    def __init__(self, llm: LLMName, client: ChatClient, cache: AnswerCache | None, window: int = WINDOW,
                 step: int = STEP) -> None:
        self.llm = llm
        self.remote = llm  # what RemoteEngine's callers read
        self.client = client
        self.cache = cache
        self.window = max(2, window)
        self.step = max(1, min(step, self.window - 1))
        self.token = f"llm:{llm.mode}:{client.endpoint.label}"
        self.whole_list = llm.mode == "llm-listwise"
        self.pointwise_prompt = JudgePrompt(DEFAULT_INSTRUCTIONS, POINTWISE_GRADES, POINTWISE_WORDS)
        self.listwise_prompt = ListwisePrompt()
        self.failures = 0  # candidates (pointwise) or windows (listwise) the model's answers did not place

    def __repr__(self) -> str:
        return f"LLMRerankEngine({self.llm.name!r})"

    def info(self) -> EngineInfo:
        """Where the order comes from."""
        how = ("a grade 0-3 per candidate" if self.llm.mode == "llm-pointwise" else
               f"a permutation per window of {self.window}, in steps of {self.step}")
        return EngineInfo("remote", f"LLM {self.llm.mode.split('-')[1]} · {self.llm.model}",
                          f"Ranked by {self.llm.model} at {self.client.endpoint.base_url} ({how}): the time includes "
                          "the network and the model's generation.")

    def score(self, query: str, documents: Sequence[str]) -> np.ndarray:
        """A score per document, in order (see the module docstring)."""
        if self.llm.mode == "llm-pointwise":
            return self._pointwise(query, documents)
        return self._listwise(query, documents)

    def _pointwise(self, query: str, documents: Sequence[str]) -> np.ndarray:
        scores = np.full(len(documents), FAILED_SCORE, dtype=np.float32)
        pairs = [(query, document) for document in documents]
        for position, answer in grade_many(self.client, self.pointwise_prompt, pairs, self.cache):
            if answer.grade is not None:
                scores[position] = answer.grade
            else:
                self.failures += 1
                logger.info("%s did not grade a candidate: %s", self.llm.model, answer.refusal or answer.failure)
        return scores

    def _listwise(self, query: str, documents: Sequence[str]) -> np.ndarray:
        order = list(range(len(documents)))
        end = len(order)
        start = max(0, end - self.window)
        while end > 0:
            inside = order[start:end]
            moved = self._window_order(query, [documents[p] for p in inside])
            order[start:end] = [inside[p] for p in moved]
            if start == 0:
                break
            end -= self.step
            start = max(0, end - self.window)
        scores = np.zeros(len(documents), dtype=np.float32)
        for rank, position in enumerate(order):
            scores[position] = len(order) - rank
        return scores

    def _window_order(self, query: str, passages: list[str]) -> list[int]:
        """The model's order of one window (0-based positions); the given order when it cannot be read twice."""
        if len(passages) < 2:
            return list(range(len(passages)))
        prompt = self.listwise_prompt
        key = answer_key(self.client.endpoint.label, prompt.version, query, "\x00".join(passages))
        kept = self.cache.get(key) if self.cache is not None else None
        if kept is not None:
            return list(kept["order"])
        messages = prompt.messages(query, passages)
        for _ in range(2):
            answer = self.client.ask(messages, max_tokens=8 * len(passages) + 20)
            if answer.refusal:
                break
            try:
                order, _missing = read_permutation(answer.text, len(passages))
            except MalformedAnswer:
                continue
            if self.cache is not None:
                self.cache.put(key, self.client.endpoint.label, prompt.version,
                               {"order": order, "input_tokens": answer.input_tokens,
                                "output_tokens": answer.output_tokens})
            return order
        self.failures += 1
        logger.info("%s gave no readable order for a window of %d; kept as it was", self.llm.model, len(passages))
        return list(range(len(passages)))

