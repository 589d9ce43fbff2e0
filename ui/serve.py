"""Starts the app's server with the default models warming up at once, not on the first visit.

``python -m ui.serve run app.py [streamlit options]`` is ``streamlit run`` with one thing more: while the
server starts, a background thread loads the default bi-encoder and reranker, prepares their engines, indexes
the sample data and answers the Search page's first query, all through the same caches the pages use. The
first visitor then waits only for the page to draw. A failure here is logged and changes nothing: the pages
load what they need as before.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

logger = logging.getLogger("ui.serve")


def warm() -> None:
    """Loads and prepares what the Search page's first visit needs, in the caches the pages read."""
    from explorer.errors import ExplorerError
    from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, SAMPLE_DATA
    from explorer.spec import PipelineSpec
    from ui import cache

    started = time.perf_counter()
    try:
        spec = PipelineSpec(dataset=str(SAMPLE_DATA), bi_encoder=DEFAULT_BI_ENCODER, reranker=DEFAULT_RERANKER)
        opened = cache.opened(spec)
        for loaded in (opened.pipeline.bi_encoder, opened.reranker):
            if loaded is not None:
                loaded.engine.info()
        cache.over_length(spec.dataset, "reranker", DEFAULT_RERANKER, spec.device, spec.trust_remote_code)
        data = opened.pipeline.dataset
        first = next(iter(data.labelled_queries("test") or data.labelled_queries()), None)
        if first is not None:
            opened.search(first.text)  # its reranker scores stay in the shared score cache
            _measure_speeds(opened, data)
    except (ExplorerError, OSError, RuntimeError, ValueError) as exc:
        print(f"warm-up: not done ({exc}); the pages load what they need on the first visit", file=sys.stderr,
              flush=True)
        return
    print(f"warm-up: default models, engines and the sample index ready in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)


def _measure_speeds(opened, data) -> None:
    """Times the default models once on the sample's texts (engines already prepared), for the pickers' speeds."""
    from explorer.models.catalog import find_preset
    from explorer.models.measured_speed import record_speed, speed_of
    from explorer.rerank.scoring import score_pairs
    from explorer.retrieval.embedding import encode_texts
    from ui import cache

    texts = [document.text for document in data.documents[:64]]
    query = next(iter(data.queries.values())).text if data.queries else "a query"
    for role, loaded in (("reranker", opened.reranker), ("bi-encoder", opened.pipeline.bi_encoder)):
        known = find_preset(loaded.info.requested) if loaded is not None else None
        if known is None:
            continue
        started = time.perf_counter()
        if role == "reranker":
            score_pairs(loaded, query, texts)
        else:
            encode_texts(loaded, texts)
        record_speed(cache.settings().cache_dir, role, speed_of(
            known.name, known.params_m, len(texts), time.perf_counter() - started, loaded.engine.info().label))


def main() -> None:
    """``streamlit run`` with the warm-up thread started first (the arguments are streamlit's own); once the server
    stops, the process ends as a command's does (``explorer.process_end``: the models' compiled graphs are not
    destroyed, which was seen to hang)."""
    from streamlit.web import cli

    from explorer.process_end import end_process

    threading.Thread(target=warm, name="warm-up", daemon=True).start()
    sys.argv = ["streamlit", *sys.argv[1:]]
    try:
        cli.main()
        status = 0
    except SystemExit as stop:  # how the streamlit command ends, with its status or a message
        if stop.code is None or isinstance(stop.code, int):
            status = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            status = 1
    end_process(status)


if __name__ == "__main__":
    main()
