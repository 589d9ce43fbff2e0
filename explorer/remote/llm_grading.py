"""One (query, document) pair graded by a chat model: asked once, asked again when the answer cannot be read
(twice at most, saying what was wrong), and kept in the answer cache. A refusal is kept as a refusal, never
guessed into a grade.

Used by the AI judge (``explorer.judging.ai_judge``) and the pointwise LLM reranker
(``explorer.remote.llm_rerank``).
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Sequence

from explorer.errors import RemoteServiceError
from explorer.remote.answer_cache import AnswerCache, answer_key
from explorer.remote.chat import ChatClient
from explorer.remote.llm_prompts import JudgePrompt, MalformedAnswer, looks_like_refusal, read_grade

CORRECTIONS = 2  # times an unreadable answer is asked again


@dataclass(frozen=True)
class GradeAnswer:
    """What the model made of one pair: a grade with its reason, or why there is none (``refusal`` when it
    declined, ``failure`` when its answers could not be read or the endpoint failed)."""

    grade: int | None
    reason: str = ""
    refusal: str = ""
    failure: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    calls: int = 0
    from_cache: bool = False

    @property
    def outcome(self) -> str:
        """"graded", "refused" or "failed"."""
        return "graded" if self.grade is not None else "refused" if self.refusal else "failed"


def grade_pair(client: ChatClient, prompt: JudgePrompt, query: str, document: str,
               cache: AnswerCache | None) -> GradeAnswer:
    """The grade of ``document`` for ``query``, from the cache or the model. A failure (the endpoint's, after its
    retries, or answers still unreadable after the corrections) is a ``failure``, not an exception, so that one bad
    pair does not end a run; it is not cached, so the next run asks again."""
    key = answer_key(client.endpoint.label, prompt.version, query, document)
    if cache is not None:
        kept = cache.get(key)
        if kept is not None:
            return GradeAnswer(**{**kept, "from_cache": True})
    answer = _ask(client, prompt, query, document)
    if cache is not None and not answer.failure:  # a grade or a refusal; a failure is asked again next time
        cache.put(key, client.endpoint.label, prompt.version, {**asdict(answer), "from_cache": False})
    return answer


def _ask(client: ChatClient, prompt: JudgePrompt, query: str, document: str) -> GradeAnswer:
    messages = prompt.messages(query, document)
    tokens_in = tokens_out = calls = 0
    seconds = 0.0
    problem = ""
    for _ in range(1 + CORRECTIONS):
        try:
            answer = client.ask(messages, max_tokens=150)
        except RemoteServiceError as exc:
            return GradeAnswer(None, failure=f"endpoint: {exc}", input_tokens=tokens_in, output_tokens=tokens_out,
                               seconds=seconds, calls=calls)
        calls += 1
        tokens_in += answer.input_tokens
        tokens_out += answer.output_tokens
        seconds += answer.seconds
        spent = dict(input_tokens=tokens_in, output_tokens=tokens_out, seconds=seconds, calls=calls)
        if answer.refusal:
            return GradeAnswer(None, refusal=answer.refusal[:300], **spent)
        try:
            grade, reason = read_grade(answer.text, prompt.grades)
            return GradeAnswer(grade, reason, **spent)
        except MalformedAnswer as exc:
            if looks_like_refusal(answer.text):
                return GradeAnswer(None, refusal=" ".join(answer.text.split())[:300], **spent)
            problem = str(exc)
            messages = prompt.correction(messages, answer.text, problem)
    return GradeAnswer(None, failure=f"unreadable after {calls} answers: {problem}", input_tokens=tokens_in,
                       output_tokens=tokens_out, seconds=seconds, calls=calls)


def grade_many(client: ChatClient, prompt: JudgePrompt, pairs: Sequence[tuple[str, str]],
               cache: AnswerCache | None,
               stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[int, GradeAnswer]]:
    """(position, answer) for each (query, document) of ``pairs``, as they arrive, with up to the endpoint's
    concurrency in flight. ``stop()`` true ends the run after the requests in flight (the rest are not asked)."""
    if not pairs:
        return
    with ThreadPoolExecutor(max_workers=client.endpoint.concurrency, thread_name_prefix="llm") as pool:
        pending = {}
        position = 0
        while position < len(pairs) or pending:
            while position < len(pairs) and len(pending) < client.endpoint.concurrency and not stop():
                query, document = pairs[position]
                pending[pool.submit(grade_pair, client, prompt, query, document, cache)] = position
                position += 1
            if not pending:
                break
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in finished:
                yield pending.pop(future), future.result()
            if stop():
                position = len(pairs)
