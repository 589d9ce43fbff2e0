"""Loading a remote reranker by name: no download, no network call; the first query makes the first request."""

from __future__ import annotations

from explorer.errors import ConfigError
from explorer.inference.device import DeviceChoice
from explorer.models.info import LoadedModel, ModelInfo
from explorer.remote.client import RerankClient, RetryPolicy, Secret, Timeouts
from explorer.remote.engine import RemoteEngine
from explorer.remote.formats import FORMATS
from explorer.remote.names import RemoteName, parse_remote_name
from explorer.remote.llm_names import is_llm_name, parse_llm_name
from explorer.settings import Settings


def load_remote_reranker(name: str, device: DeviceChoice, settings: Settings,
                         policy: RetryPolicy | None = None, timeouts: Timeouts | None = None) -> LoadedModel:
    """The remote reranker ``name`` (``cohere:MODEL``, ``voyage:MODEL``, ``jina:MODEL`` or ``rerank-api:URL``)
    ready to score. ConfigError when the name cannot be used or a vendor's key variable is not set. ``policy`` and
    ``timeouts`` default to the settings' retries and timeout."""
    if is_llm_name(name):
        return load_llm_reranker(name, device, settings, policy, timeouts)
    remote = parse_remote_name(name)
    key = remote.key(settings)
    if not key and remote.vendor != "rerank-api":
        raise ConfigError(f"{remote.title}'s reranker needs an API key: set {remote.key_variable} in the environment "
                          "of the server (or the command line) before it starts. It is read from there only, and "
                          "never shown, logged or saved.")
    endpoint = remote.endpoint(settings)
    client = RerankClient(endpoint, Secret(key, remote.key_variable), remote.url_hint(),
                          timeouts or Timeouts(read_s=settings.remote_timeout_s),
                          policy or RetryPolicy(retries=settings.remote_retries))
    engine = RemoteEngine(remote, client, FORMATS[remote.vendor])
    info = remote_info(remote, endpoint)
    return LoadedModel(model=remote, info=info, device=device, engine=engine)  # type: ignore[arg-type]


def remote_info(remote: RemoteName, endpoint: str) -> ModelInfo:
    """What the page says about a remote reranker: where its scores come from, and that its time includes the
    network. Its fingerprint names the model and the endpoint (never the key), so the score cache keeps the
    scores of a stub and of the real service apart."""
    runs = f"{remote.title}'s rerank API ({remote.model})" if remote.model else "the rerank service"
    note = (f"Scored by {runs} at {endpoint}: each query is one request, so the reranking time includes the network. "
            + (f"The key comes from {remote.key_variable}." if remote.vendor != "rerank-api" else
               "Its scores are the service's relevance scores as it returns them."))
    return ModelInfo(requested=remote.name, loaded=remote.name, source="remote", note=note,
                     trained_for_relevance=True, has_probability=False, fingerprint=f"remote:{remote.model}@{endpoint}"
                     if remote.model else f"remote:{endpoint}")


def load_llm_reranker(name: str, device: DeviceChoice, settings: Settings, policy: RetryPolicy | None = None,
                      timeouts: Timeouts | None = None) -> LoadedModel:
    """The LLM reranker ``name`` (``llm-pointwise:MODEL`` or ``llm-listwise:MODEL``, optionally ``@URL``) ready to
    rank, its answers kept in the cache folder's answer cache. Nothing is sent before the first query."""
    from explorer.remote.answer_cache import FILE_NAME, AnswerCache
    from explorer.remote.chat import open_chat
    from explorer.remote.llm_rerank import LLMRerankEngine

    llm = parse_llm_name(name)
    endpoint = llm.endpoint(settings)
    client = open_chat(endpoint, settings.llm_api_key, policy=policy, timeouts=timeouts)
    engine = LLMRerankEngine(llm, client, AnswerCache(settings.cache_dir / FILE_NAME))
    note = (f"Ranked by {llm.model} through the chat endpoint at {endpoint.base_url} ("
            + ("a grade 0-3 per candidate; equal grades keep the first stage's order" if llm.mode == "llm-pointwise"
               else f"RankGPT-style permutations over windows of {engine.window}, in steps of {engine.step}; the "
                    "score is the place in the final order")
            + "). Its time includes the network and the model's generation; answers are cached, so a repeated run "
              "asks nothing.")
    info = ModelInfo(requested=llm.name, loaded=llm.name, source="remote", note=note, trained_for_relevance=True,
                     has_probability=False, fingerprint=f"llm:{llm.mode}:{endpoint.label}")
    return LoadedModel(model=llm, info=info, device=device, engine=engine)  # type: ignore[arg-type]
