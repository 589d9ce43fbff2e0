"""Runs of one model asked for at once: they take turns, share model calls, and get exactly their own answers."""

import threading
import time

import numpy as np
import pytest

from explorer.inference.shared_runs import Outputs, SharedRuns


class SlowDouble:
    """A stand-in model call: doubles each input, takes a little time, and records every call it gets."""

    def __init__(self, seconds: float = 0.05, fail_on: int | None = None) -> None:
        self.seconds, self.fail_on = seconds, fail_on
        self.calls: list[list[int]] = []
        self.running = 0
        self.most_at_once = 0

    def __call__(self, inputs, output):
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.calls.append(list(inputs))
        time.sleep(self.seconds)
        self.running -= 1
        if self.fail_on is not None and self.fail_on in inputs:
            raise RuntimeError("the model failed")
        values = np.array(inputs, dtype=np.float32) * 2
        return Outputs(values, np.ones(len(inputs), dtype=np.int64))


def ask_at_once(shared: SharedRuns, requests: list[list[int]]) -> tuple[list, list]:
    answers: list = [None] * len(requests)
    errors: list = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def ask(position: int) -> None:
        start.wait()
        try:
            answers[position] = shared.run(requests[position], "scores").values.tolist()
        except RuntimeError as exc:
            errors[position] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, errors


def test_ten_callers_at_once_share_calls_one_at_a_time_and_get_their_own_answers():
    model = SlowDouble()
    shared = SharedRuns(model, max_inputs=12)
    requests = [[10 * caller + i for i in range(4)] for caller in range(10)]
    answers, errors = ask_at_once(shared, requests)
    assert errors == [None] * 10
    assert answers == [[2.0 * x for x in request] for request in requests]
    assert model.most_at_once == 1  # never two model calls side by side
    assert shared.calls < 10 and shared.requests == 10  # several queries shared a call
    assert max(len(call) for call in model.calls) <= 12  # no call over the limit
    assert sorted(x for call in model.calls for x in call) == sorted(x for r in requests for x in r)


def test_a_request_larger_than_the_limit_still_runs_whole():
    shared = SharedRuns(SlowDouble(seconds=0), max_inputs=2)
    assert shared.run([1, 2, 3], "scores").values.tolist() == [2.0, 4.0, 6.0]


def test_a_failed_call_fails_the_requests_it_held_and_no_other():
    model = SlowDouble(fail_on=13)
    shared = SharedRuns(model, max_inputs=4)
    answers, errors = ask_at_once(shared, [[11, 12], [13, 14], [15, 16], [17, 18]])
    failed = [i for i, error in enumerate(errors) if error is not None]
    assert 1 in failed and all("the model failed" in str(errors[i]) for i in failed)
    for i, answer in enumerate(answers):
        if i not in failed:
            assert answer is not None
    assert shared.run([5], "scores").values.tolist() == [10.0]  # the model is free again


@pytest.fixture(scope="module")
def exact_reranker():
    """The packaged reranker on an fp32 PyTorch engine of its own, whatever engine path is forced: sharing runs must
    change nothing, and only in fp32 is a pair's score the same whatever it is batched with (in bf16 or int8 the
    padding of a batch moves the rounding, by up to 0.6 % of a score seen in int8)."""
    from explorer.inference.backends import EngineConfig
    from explorer.inference.device import DeviceChoice
    from explorer.inference.engine import InferenceEngine
    from explorer.models.info import LoadedModel, ModelInfo
    from explorer.models.packaged import build_packaged_reranker

    cpu = DeviceChoice("cpu", "fp32", "tests")
    model = build_packaged_reranker(cpu)
    info = ModelInfo("packaged", "packaged", "packaged", "", trained_for_relevance=False, fingerprint="")
    return LoadedModel(model, info, cpu, engine=InferenceEngine(model, cpu, EngineConfig(backend="torch")))


@pytest.mark.slow
def test_sessions_scoring_at_once_on_the_real_model_get_what_they_get_alone(exact_reranker, sample):
    from explorer.rerank.scoring import score_pairs

    reranker = exact_reranker
    assert reranker.engine.info().label == "torch · fp32"
    texts = [doc.full_text for doc in sample.documents[:48]]
    queries = ["rotate the database password", "vpn drops every few minutes", "guest wifi", "badge does not open"]
    alone = {query: score_pairs(reranker, query, texts[i::4]).raw for i, query in enumerate(queries)}
    calls_before = reranker.engine.shared.calls
    together: dict[str, np.ndarray] = {}
    start = threading.Barrier(len(queries))

    def session(i: int, query: str) -> None:
        start.wait()
        together[query] = score_pairs(reranker, query, texts[i::4]).raw

    threads = [threading.Thread(target=session, args=(i, q)) for i, q in enumerate(queries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for query in queries:
        np.testing.assert_allclose(together[query], alone[query], atol=1e-4)
    assert reranker.engine.shared.calls - calls_before < len(queries)


def test_with_two_calls_at_once_never_more_than_two_run():
    model = SlowDouble()
    shared = SharedRuns(model, max_inputs=4, concurrent=2)
    answers, errors = ask_at_once(shared, [[10 * caller + i for i in range(4)] for caller in range(8)])
    assert errors == [None] * 8 and all(answer is not None for answer in answers)
    assert model.most_at_once <= 2
