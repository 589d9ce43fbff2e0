"""``serve``: the pipeline file as an HTTP service (rerank, search, health, metrics)."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.cli.output import say, show_progress
from explorer.settings import Settings


def serve(args: argparse.Namespace) -> int:
    """Opens the pipeline file's pipeline, warms it, and answers on --host:--port until interrupted."""
    from explorer.serving.limits import ServiceLimits
    from explorer.serving.startup import log_as_json_lines, open_service, serve_forever

    limits = ServiceLimits(max_documents=args.max_documents, max_document_chars=args.max_document_chars,
                           budget_ms=args.budget_ms, max_pending=args.max_pending, batching=not args.no_batching,
                           batch_wait_ms=args.batch_wait_ms)
    log_as_json_lines()
    service = open_service(Path(args.pipeline), Settings.from_env(), limits, progress=show_progress)
    say(f"serving {service.model_name} on http://{args.host}:{args.port} (POST /v1/rerank, POST /v2/rerank, "
        f"POST /v1/search, GET /health, GET /metrics); time budget {service.budget.said()}")
    serve_forever(service, args.host, args.port)
    return 0
