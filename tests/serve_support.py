"""A real HTTP server on 127.0.0.1 for an ASGI application (the service, or a vendor's stub), in this process; and a
small corpus with metadata for the signals tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Coroutine, Iterator, Mapping, Sequence

from explorer.models.info import LoadedModel
from explorer.settings import Settings
from explorer.signals.config import parse_signals
from explorer.spec import Blend, DirectParts, OpenPipeline, PipelineSpec, open_pipeline
from tests.browser_support import free_port


@contextmanager
def http_server(app: Any) -> Iterator[str]:
    """Serves ``app`` with uvicorn on a free 127.0.0.1 port; yields its base URL; stops it after."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None,
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test HTTP server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run_coroutine(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coroutine)`` on a thread of its own: the browser tests' Playwright keeps an event loop running
    on the main thread for the whole session, where ``asyncio.run`` refuses to start."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# A small help-desk corpus whose documents carry a date, a status and a number, for the signals tests: for each query,
# the most relevant documents are old or archived, so freshness and authority move the current, recent ones up.
SIGNAL_DOCUMENTS = [
    ("vpn-1", "Resetting your VPN password", "To reset your VPN password, open the self-service portal, choose "
     "VPN, then reset password, and sign in again with the new one.", "2021-03-01", "archived", 5400),
    ("vpn-2", "VPN password reset, new portal", "Reset a forgotten VPN password in the new identity portal: "
     "choose reset password under VPN access and wait a minute before connecting.", "2025-05-20", "current", 120),
    ("vpn-3", "VPN password rules", "VPN passwords must be 14 characters long and are changed every 90 days; the "
     "portal reminds you a week before.", "2024-01-10", "draft", 300),
    ("vpn-4", "The VPN drops every few minutes", "When the VPN connection drops every few minutes, update the "
     "client and turn off the laptop's power saving for the network card.", "2022-02-14", "archived", 2100),
    ("vpn-5", "VPN disconnects on office wifi", "Connections to the VPN time out on the office wifi; connect to "
     "the staff network instead, or use the cable in meeting rooms.", "2025-04-28", "current", 80),
    ("vpn-6", "Installing the VPN client", "Install the VPN client from the software centre, restart, and sign "
     "in with your usual account.", "2025-03-02", None, 950),
    ("mail-1", "Resetting your email password", "Reset your email password in the identity portal under mail, "
     "then update it on your phone.", "2025-05-30", "current", 400),
    ("print-1", "Printer out of toner", "When the printer on floor two runs out of toner, order a cartridge "
     "through the facilities desk.", "2025-06-01", "current", 60),
    ("badge-1", "Ordering a new badge", "Order a new badge at reception; bring an ID and allow two days.",
     "2023-09-09", "current", 40),
    ("wifi-1", "The wifi password changed", "The guest wifi password changes every Monday; ask reception.",
     "2024-11-11", "draft", 700),
]
SIGNAL_QUERIES = {"q1": "how do I reset my vpn password", "q2": "the vpn keeps disconnecting"}
# freshness (half-life 90 days), authority (a document without a status counts 0.5) and views: half the final score
SIGNAL_FORMS = ["freshness:updated:90d:0.2", "authority:status:0.2:current=1,draft=0.3,archived=0:other=0.5",
                "number:views:0.1:log"]


def write_signal_corpus(folder: Path) -> Path:
    """``SIGNAL_DOCUMENTS`` and ``SIGNAL_QUERIES`` as a BEIR folder under ``folder`` (views as JSON numbers, a
    document without a status), with one judged document per query; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for doc_id, title, text, updated, status, views in SIGNAL_DOCUMENTS:
            line = {"_id": doc_id, "title": title, "text": text, "updated": updated, "views": views,
                    **({"status": status} if status else {})}
            corpus.write(json.dumps(line) + "\n")
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": query_id, "text": text}) + "\n"
                                                  for query_id, text in SIGNAL_QUERIES.items()), encoding="utf-8")
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tvpn-2\t1\nq2\tvpn-5\t1\n",
                                               encoding="utf-8")
    return folder


class LoadedParts(DirectParts):
    """``DirectParts`` with models already loaded (the session's, in full precision on the CPU), so that a test opens
    a pipeline without loading or compiling a model again."""

    def __init__(self, settings: Settings, bi_encoder: LoadedModel, reranker: LoadedModel) -> None:
        super().__init__(settings)
        self._bi_encoder, self._reranker = bi_encoder, reranker

    def bi_encoder(self, name: str, device: str, trust_remote_code: bool) -> LoadedModel:
        """The session's bi-encoder, whatever the name."""
        return self._bi_encoder

    def reranker(self, name: str, device: str, trust_remote_code: bool) -> LoadedModel:
        """The session's reranker, whatever the name."""
        return self._reranker


def signal_page(corpus: Path, settings: Settings, bi_encoder: LoadedModel, reranker: LoadedModel,
                forms: Sequence[str] = SIGNAL_FORMS, depth: int = 8) -> OpenPipeline:
    """The pipeline as the Search page opens it on ``corpus`` with the signals of ``forms`` (blend "alone": the
    reranker's score alone is relevance, so documents sent without a first-stage score rank alike)."""
    spec = PipelineSpec(dataset=str(corpus), depth=depth, blend=Blend("alone"), signals=parse_signals(forms))
    return open_pipeline(spec, LoadedParts(settings, bi_encoder, reranker), None)


def as_sent(metadata: Mapping[str, str]) -> dict[str, Any]:
    """A corpus document's metadata as a client sends it: ``views`` as a JSON number (the loaders read the corpus's
    number as its text, and the service and the compressor must read the number sent alike)."""
    return {key: int(value) if key == "views" else value for key, value in metadata.items()}
