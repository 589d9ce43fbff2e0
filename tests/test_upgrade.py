"""Background preparations (int8 quantised while bf16 answers): a process that ends waits for them to finish."""

from __future__ import annotations

import threading
import time

from explorer.inference import upgrade


def test_a_preparation_still_running_is_waited_for_and_then_counted_as_done():
    release, finished = threading.Event(), []
    job = upgrade.Upgrade("int8", "openvino · bf16")

    def make():
        release.wait(5)
        time.sleep(0.2)
        return "stages"

    upgrade.start(job, make, finished.append)
    assert job in upgrade.running()
    assert upgrade.wait_for_running(limit_s=0.05) is False  # still running: the wait is bounded
    release.set()
    assert upgrade.wait_for_running(limit_s=5) is True
    assert finished == ["stages"] and job.done.is_set() and job not in upgrade.running()


def test_a_failed_preparation_is_not_waited_for_again():
    job = upgrade.Upgrade("int8", "openvino · bf16")

    def fail():
        raise RuntimeError("could not quantise")

    upgrade.start(job, fail, lambda _stages: None)
    assert upgrade.wait_for_running(limit_s=5) is True and job.done.is_set()
