"""Starting the service: the pipeline file read and checked, its pipeline opened and warmed, uvicorn on a port.

A bad pipeline file stops the start with a ConfigError naming each problem (the command line prints it on one
line); nothing listens until the models are loaded and have answered once.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from explorer.errors import ConfigError
from explorer.export.pipeline_file import read_pipeline_file
from explorer.serving.limits import ServiceLimits
from explorer.serving.service import RerankService, logger
from explorer.settings import Settings
from explorer.spec import DirectParts, Progress, open_pipeline


def open_service(path: Path, settings: Settings, limits: ServiceLimits | None = None,
                 progress: Progress | None = None) -> RerankService:
    """The service of the pipeline file at ``path``, warmed: one query through both stages before it listens."""
    file = read_pipeline_file(path)
    if file.reranker is None:
        raise ConfigError(f"The pipeline file {path} has no reranker; the service reranks. Export a pipeline with "
                          "a reranker.")
    opened = open_pipeline(file.spec(), DirectParts(settings), None, progress)
    service = RerankService(file, opened, limits)
    for difference in service.differences:
        logger.warning(json.dumps({"event": "start", "warning": difference}))
    if service.cascade is not None:
        small, keep = service.cascade
        logger.info(json.dumps({"event": "start", "cascade": {"small_reranker": small.info.loaded, "keep": keep}}))
    queries = opened.pipeline.dataset.queries
    settle_budget(service, next(iter(queries.values())).text if queries else "warm up")
    return service


def settle_budget(service: RerankService, query: str) -> float:
    """Warms the service with ``query`` through both stages and measures a second run, what a request will cost;
    where no budget was given, the budget is set from it with headroom (``measured_budget_ms``). Logs the budget and
    its source, and warns when a given budget is under the measured cost. Returns the measured milliseconds."""
    service.warm_up(query)  # the first run prepares the engines; the second is what a request will cost
    started = time.perf_counter()
    service.warm_up(query)
    took_ms = (time.perf_counter() - started) * 1000
    budget = service.budget_from_measurement(took_ms)
    logger.info(json.dumps({"event": "start", "measured_search_ms": round(took_ms, 1), "budget_ms": budget.ms,
                            "budget_source": budget.source, "budget": budget.said()}))
    if took_ms > budget.ms:
        logger.warning(json.dumps({"event": "start", "warning": (
            f"a search through both stages took {took_ms:,.0f} ms here, over the {budget.ms:,.0f} ms "
            "budget given: most searches would be answered with the fallback. Raise --budget-ms (or leave it out: the "
            "budget is then set from this measurement), or export the pipeline with a smaller depth.")}))
    return took_ms


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, and the record's own fields when its message is a JSON
    object (the service's request records), else its message."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name}
        message = record.getMessage()
        try:
            fields = json.loads(message) if message.startswith("{") else None
        except json.JSONDecodeError:
            fields = None
        line.update(fields if isinstance(fields, dict) else {"message": message})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def log_as_json_lines(level: int = logging.INFO) -> None:
    """Every log line of this process (the service's, uvicorn's) as JSON on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("explorer.serving", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(level)


def serve_forever(service: RerankService, host: str, port: int) -> None:
    """Answers on ``host``:``port`` until interrupted (uvicorn; its access log is off: the service logs each
    request itself, with its timings)."""
    import uvicorn

    from explorer.serving.http_app import create_app

    try:
        uvicorn.run(create_app(service), host=host, port=port, log_config=None, access_log=False,
                    timeout_graceful_shutdown=5)
    finally:
        service.close()
