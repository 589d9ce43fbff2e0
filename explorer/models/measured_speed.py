"""How fast a model ran on this machine, kept in the workspace so that the pickers' speed figures are measured here,
not assumed: the app's warm-up times the default reranker and bi-encoder once, and every preset's figure is that
measurement scaled by the number of weights each text passes through.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from explorer.models.catalog import Role

FILE = "measured_speed.json"


@dataclass(frozen=True)
class MeasuredSpeed:
    """Texts (bi-encoder) or pairs (reranker) per second one model ran at here, and how it ran."""

    model: str
    params_m: float
    per_second: float
    engine: str  # e.g. "openvino · int8"
    measured: str  # ISO date and time


def record_speed(cache_dir: Path, role: Role, speed: MeasuredSpeed) -> None:
    """Keeps ``speed`` for ``role`` (replacing the last one), written whole in one step."""
    path = cache_dir / FILE
    kept = _read(path)
    kept[role] = asdict(speed)
    cache_dir.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".speed-", dir=cache_dir)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(kept, out)
    os.replace(staging, path)


def measured_speed(cache_dir: Path, role: Role) -> MeasuredSpeed | None:
    """The last speed measured here for ``role``, or None (never measured, or an unreadable record)."""
    entry = _read(cache_dir / FILE).get(role)
    try:
        return MeasuredSpeed(**entry) if isinstance(entry, dict) else None
    except TypeError:
        return None


def speed_of(model: str, params_m: float, texts: int, seconds: float, engine: str) -> MeasuredSpeed:
    """A measurement of ``texts`` run in ``seconds``."""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return MeasuredSpeed(model, params_m, texts / max(seconds, 1e-9), engine, now)


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
