"""Training runs in a background thread, so the page stays live: it shows progress and can stop the run."""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field

import streamlit as st

from explorer.errors import ExplorerError
from explorer.inference.device import DeviceChoice
from explorer.settings import Settings
from explorer.time_left import Pace
from explorer.training.run import TrainRequest, TrainResult, train_and_evaluate
from explorer.training.trainer import StopFlag


@dataclass
class TrainingJob:
    request: TrainRequest
    stop: StopFlag = field(default_factory=StopFlag)
    lines: list[str] = field(default_factory=list)
    step: int = 0
    total: int = 0
    loss: float | None = None
    result: TrainResult | None = None
    error: str | None = None
    thread: threading.Thread | None = None
    pace: Pace = field(default_factory=lambda: Pace("steps"))

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


@st.cache_resource
def _jobs() -> dict[str, TrainingJob]:
    """Process-wide, so a run survives page changes and reruns."""
    return {}


def current_job() -> TrainingJob | None:
    return _jobs().get("current")


def start_job(request: TrainRequest, settings: Settings, device: DeviceChoice) -> TrainingJob:
    running = current_job()
    if running is not None and running.running:
        raise ExplorerError("A training run is already going on; stop it or wait for it to finish.")
    job = TrainingJob(request=request, total=request.settings.steps)

    def progress(step: int, total: int, loss: float | None) -> None:
        job.step, job.total, job.loss = step, total, loss

    def run() -> None:
        try:
            job.result = train_and_evaluate(request, settings, device, say=job.lines.append, progress=progress,
                                            stop=job.stop)
        except ExplorerError as exc:
            job.error = str(exc)
        except Exception as exc:  # shown on the page rather than lost in a thread
            job.error = f"Training failed: {exc}"
            job.lines.append(traceback.format_exc(limit=3))

    job.thread = threading.Thread(target=run, name="explorer-training", daemon=True)
    _jobs()["current"] = job
    job.thread.start()
    return job
