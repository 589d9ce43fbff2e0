"""The AI judge: a chat model grades (query, document) pairs on the data set's own scale, with its guidelines in
the prompt, and its grades are stored as the rater ``ai:MODEL``.

Its grades are kept apart from people's (``explorer.judging.store``): they count as labels only once the user
chooses so. Each grade's note holds the prompt's version and the model's one-line reason. Before a run, ``plan``
says how many calls, tokens and (with a price) dollars it takes; a run writes every grade the moment it arrives,
so a run stopped half way loses nothing and resumes from the answer cache.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from explorer.judging.scale import JudgingScale
from explorer.judging.store import AI_PREFIX, Judgement, JudgementStore
from explorer.remote.answer_cache import AnswerCache, answer_key
from explorer.remote.chat import ChatClient, ChatEndpoint, estimated_tokens
from explorer.remote.llm_grading import GradeAnswer, grade_many
from explorer.remote.llm_prompts import DEFAULT_INSTRUCTIONS, JudgePrompt
from explorer.time_left import said, seconds_left

if TYPE_CHECKING:
    from explorer.records import Dataset

NOTE_SEPARATOR = " · "
ANSWER_TOKENS = 40  # about what a one-line JSON answer takes, for the plan


@dataclass(frozen=True)
class JudgePair:
    """One (query, document) pair to grade."""

    query_id: str
    query: str
    doc_id: str
    document: str


def ai_rater(model: str) -> str:
    """The rater name an AI judge's grades are stored under: "ai:" and the model."""
    return AI_PREFIX + model


def judge_prompt(scale: JudgingScale, guidelines: str = "", instructions: str = DEFAULT_INSTRUCTIONS) -> JudgePrompt:
    """The judge's prompt for a data set judged on ``scale`` with ``guidelines``."""
    return JudgePrompt(instructions, scale.grades, dict(scale.words), guidelines)


def note_of(version: str, reason: str) -> str:
    """What a stored AI grade's note holds: the prompt's version and the model's reason."""
    return f"{version}{NOTE_SEPARATOR}{reason}"


def read_note(note: str) -> tuple[str, str]:
    """(prompt version, reason) from an AI grade's note ("" for a version it does not name)."""
    version, separator, reason = note.partition(NOTE_SEPARATOR)
    return (version, reason) if separator and version.startswith("p-") else ("", note)


@dataclass(frozen=True)
class JudgePlan:
    """What a run will take: calls to make (pairs not in the answer cache), pairs answered already, and the tokens
    and dollars it is estimated to cost (None without a price)."""

    pairs: int
    calls: int
    cached: int
    input_tokens: int
    output_tokens: int
    usd: float | None

    @property
    def summary(self) -> str:
        """The plan in a sentence."""
        cost = f", about ${self.usd:,.4f}" if self.usd is not None else " (no price set, so no cost)"
        cached = f"; {self.cached:,} answered before (from the answer cache, free)" if self.cached else ""
        return (f"{self.pairs:,} pair(s) to grade: {self.calls:,} call(s), about {self.input_tokens:,} input and "
                f"{self.output_tokens:,} output tokens{cost}{cached}. Unreadable answers are asked again, so the "
                "calls can be a few more.")


def plan(pairs: Sequence[JudgePair], prompt: JudgePrompt, endpoint: ChatEndpoint,
         cache: AnswerCache | None) -> JudgePlan:
    """The calls, tokens and cost of grading ``pairs`` (estimated at 4 characters a token)."""
    keys = [answer_key(endpoint.label, prompt.version, pair.query, pair.document) for pair in pairs]
    known = cache.has(keys) if cache is not None else set()
    asked = [pair for pair, key in zip(pairs, keys) if key not in known]
    system = estimated_tokens(prompt.system())
    input_tokens = sum(system + estimated_tokens(pair.query) + estimated_tokens(pair.document) + 12
                       for pair in asked)
    output_tokens = ANSWER_TOKENS * len(asked)
    return JudgePlan(len(pairs), len(asked), len(pairs) - len(asked), input_tokens, output_tokens,
                     endpoint.cost(input_tokens, output_tokens))


@dataclass
class JudgeRun:
    """What a run did: the grades written (and their answers), the refusals and the failures, by pair."""

    rater: str
    prompt_version: str
    graded: dict[tuple[str, str], GradeAnswer] = field(default_factory=dict)
    refused: dict[tuple[str, str], GradeAnswer] = field(default_factory=dict)
    failed: dict[tuple[str, str], GradeAnswer] = field(default_factory=dict)
    stopped: bool = False
    seconds: float = 0.0

    @property
    def answers(self) -> list[GradeAnswer]:
        """Every answer of the run."""
        return [*self.graded.values(), *self.refused.values(), *self.failed.values()]

    @property
    def summary(self) -> str:
        """The run in a sentence."""
        answers = self.answers
        asked = [a for a in answers if not a.from_cache]
        calls = sum(a.calls for a in asked)
        tokens = sum(a.input_tokens + a.output_tokens for a in asked)
        cached = len(answers) - len(asked)
        parts = [f"{len(self.graded):,} grade(s) written as {self.rater} (prompt {self.prompt_version})"]
        if self.refused:
            parts.append(f"{len(self.refused):,} refused by the model")
        if self.failed:
            parts.append(f"{len(self.failed):,} failed (asked again on the next run)")
        parts.append(f"{calls:,} call(s), {tokens:,} tokens, {self.seconds:.1f} s"
                     + (f"; {cached:,} from the answer cache" if cached else ""))
        return "; ".join(parts) + ("; stopped before the end" if self.stopped else "") + "."


Progress = Callable[[int, int, str], None]  # (done, total, "about 3 min left")


def run(pairs: Sequence[JudgePair], client: ChatClient, prompt: JudgePrompt, store: JudgementStore, dataset: str,
        cache: AnswerCache | None, progress: Progress | None = None,
        stop: Callable[[], bool] = lambda: False) -> JudgeRun:
    """Grades ``pairs`` with the model behind ``client``, writing each grade to ``store`` (data set ``dataset``,
    rater ``ai:MODEL``, note: prompt version and reason) as it arrives. ``stop()`` ends the run early."""
    rater = ai_rater(client.endpoint.model)
    result = JudgeRun(rater, prompt.version)
    started = time.perf_counter()
    texts = [(pair.query, pair.document) for pair in pairs]
    for done, (position, answer) in enumerate(grade_many(client, prompt, texts, cache, stop), start=1):
        pair = pairs[position]
        where = (pair.query_id, pair.doc_id)
        if answer.grade is not None:
            store.put_many(dataset, [Judgement(pair.query_id, pair.doc_id, rater, answer.grade,
                                               note_of(prompt.version, answer.reason))], prompt.grades, ai=True)
            result.graded[where] = answer
        elif answer.refusal:
            result.refused[where] = answer
        else:
            result.failed[where] = answer
        if progress is not None:
            elapsed = time.perf_counter() - started
            progress(done, len(pairs), said(seconds_left(done, len(pairs), elapsed)))
    result.seconds = time.perf_counter() - started
    result.stopped = len(result.answers) < len(pairs)
    return result


def stored_grades(store: JudgementStore, dataset: str, rater: str,
                  version: str | None = None) -> dict[tuple[str, str], tuple[int, str]]:
    """(query id, document id) -> (grade, reason) of an AI rater in ``store``, of one prompt ``version`` if given."""
    found = {}
    for judgement in store.judgements(dataset, rater=rater):
        kept_version, reason = read_note(judgement.note)
        if version is None or kept_version == version:
            found[(judgement.query_id, judgement.doc_id)] = (judgement.grade, reason)
    return found


def human_labels(dataset_qrels: Mapping[str, Mapping[str, int]],
                 judgements: Sequence[Judgement]) -> dict[tuple[str, str], int]:
    """The people's grade of each pair they graded: the data set's own labels, with grades given here by people
    (the mean, rounded half up, where several did) in their place. AI raters' grades are never among them."""
    from explorer.judging.labels import combined
    from explorer.judging.store import is_ai_rater

    labels = {(query_id, doc_id): grade for query_id, grades in dataset_qrels.items()
              for doc_id, grade in grades.items()}
    given = combined([j for j in judgements if not is_ai_rater(j.rater)], "mean")
    labels.update({(query_id, doc_id): grade for query_id, grades in given.items() for doc_id, grade in grades.items()})
    return labels


def sampled_queries(query_ids: Sequence[str], count: int | None, seed: int = 0) -> list[str]:
    """``count`` of ``query_ids`` drawn at random (seeded: the same draw every time), sorted; all of them when
    ``count`` is None or not below their number."""
    ordered = sorted(set(query_ids))
    return ordered if count is None or count >= len(ordered) else sorted(random.Random(seed).sample(ordered, count))


def judge_pairs(chosen: Sequence[tuple[str, str]], dataset: "Dataset") -> list[JudgePair]:
    """The (query id, document id) pairs of ``chosen`` with the texts the judge reads (the query, the document's
    title and text, as the rerankers read them); pairs whose query or document ``dataset`` lacks are left out."""
    texts = {doc.doc_id: doc.full_text for doc in dataset.documents}
    return [JudgePair(query_id, dataset.queries[query_id].text, doc_id, texts[doc_id])
            for query_id, doc_id in chosen if query_id in dataset.queries and doc_id in texts]


def sample_of_labelled(labels: Mapping[tuple[str, str], int], queries: int | None,
                       seed: int = 0) -> list[tuple[str, str]]:
    """The labelled pairs of ``queries`` queries drawn at random (seeded; every labelled query when None), in a
    stable order: the sample the judge is checked on."""
    by_query: dict[str, list[str]] = {}
    for query_id, doc_id in sorted(labels):
        by_query.setdefault(query_id, []).append(doc_id)
    return [(query_id, doc_id) for query_id in sampled_queries(list(by_query), queries, seed)
            for doc_id in by_query[query_id]]
