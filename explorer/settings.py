"""The one place where the engine reads its environment. Everything else takes a Settings argument."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, TypeVar

from explorer.errors import ConfigError

_Number = TypeVar("_Number", int, float)

HubMode = Literal["auto", "online", "offline"]
# How models run on the CPU (EXPLORER_ENGINE): "auto" as the CPU suits; "fp32" PyTorch exactly, as on a CPU without
# bf16 units; "bf16" the bf16 path; "int8" the int8 path for rerankers (OpenVINO; bf16 elsewhere, where the CPU has it)
EnginePath = Literal["auto", "fp32", "bf16", "int8"]
ENGINE_PATHS: tuple[EnginePath, ...] = ("auto", "fp32", "bf16", "int8")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = PROJECT_ROOT / "sample_data"

DEFAULT_BI_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_RERANKER = "cross-encoder/ms-marco-MiniLM-L-6-v2"


@dataclass(frozen=True)
class Settings:
    """The engine's configuration (folders, hub access, limits, options), each with a default; see ``from_env``."""

    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "relevance-explorer")
    # auto: probe the hub once and use it if it answers; offline: never try it
    hub_mode: HubMode = "auto"
    hub_endpoint: str = "https://huggingface.co"
    max_upload_mb: int = 200
    # one text file of a folder or zip (EXPLORER_MAX_DOCUMENT_MB); larger ones are refused
    max_document_mb: int = 4
    # rerankers trained here (the default offline reranker among them); kept apart from the caches
    models_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "relevance-explorer" / "models")
    # rerankers on a CPU with bf16 units run their matrix products in int8 (EXPLORER_RERANK_INT8=0: bf16 only)
    rerank_int8: bool = True
    # the path every engine takes on the CPU, forced (EXPLORER_ENGINE): so a test run or a user can take on this
    # machine the path another CPU kind would take. Read by Settings() too, not only from_env(), so that a whole test
    # suite run with EXPLORER_ENGINE set takes that path in every engine it builds.
    engine_path: EnginePath = field(default_factory=lambda: engine_path_from(os.environ))
    # a reranker's first int8 graph is quantised in the background while it answers from bf16 (the app sets this;
    # the CLI and the benchmark quantise first, so every query of a run is scored the same way)
    int8_in_background: bool = False
    # a second BEIR folder of real text for `python -m explorer bench` (EXPLORER_BENCH_DATA); None: sample data alone
    bench_data: Path | None = None
    # folders a page may read a typed path from, besides the sample data and the cache folder (EXPLORER_DATA_DIRS)
    data_dirs: tuple[Path, ...] = ()
    # a team's shared workspace: every data set loaded on a page is listed for every session (EXPLORER_SHARED_WORKSPACE)
    shared_workspace: bool = False
    # the Milvus first stage: "" = milvus-lite in the file ``milvus_lite_path``, or a server's URI such as
    # http://host:19530 (EXPLORER_MILVUS_URI); its token comes from MILVUS_TOKEN only and is never written anywhere
    milvus_uri: str = ""
    milvus_token: str = field(default="", repr=False)
    # Milvus server hosts a page may connect to besides this machine and milvus_uri's (EXPLORER_MILVUS_HOSTS, comma-
    # separated): a typed URI makes this server open a connection and would be sent MILVUS_TOKEN
    milvus_hosts: tuple[str, ...] = ()
    # Hosted rerankers (explorer.remote): each vendor's key from its own variable only (never shown, logged or
    # saved), and each vendor's base URL (EXPLORER_COHERE_URL, ...; tests point them at local stubs). A vendor's key
    # is sent only to that vendor's base URL; RERANK_API_KEY (optional) goes to ``rerank-api:URL`` services.
    cohere_api_key: str = field(default="", repr=False)
    voyage_api_key: str = field(default="", repr=False)
    jina_api_key: str = field(default="", repr=False)
    rerank_api_key: str = field(default="", repr=False)
    cohere_url: str = "https://api.cohere.com"
    voyage_url: str = "https://api.voyageai.com"
    jina_url: str = "https://api.jina.ai"
    # rerank-api hosts a page may send queries to besides the vendors' base URLs (this machine's own included)
    # (EXPLORER_RERANK_HOSTS, comma-separated): a URL typed on a page makes this server connect there
    rerank_hosts: tuple[str, ...] = ()
    # seconds a remote reranker may take to answer one request (EXPLORER_REMOTE_TIMEOUT), and how many times a
    # request answered 429 or 5xx is tried again (EXPLORER_REMOTE_RETRIES)
    remote_timeout_s: float = 30.0
    remote_retries: int = 3
    # An OpenAI-compatible chat-completions endpoint (explorer.remote.chat) for the AI judge and the LLM rerankers:
    # its base URL (EXPLORER_LLM_URL), the model offered by default (EXPLORER_LLM_MODEL), the variable its key is read
    # from (EXPLORER_LLM_KEY_VARIABLE, OPENAI_API_KEY unless named; a local server needs none), the key itself (never
    # shown, logged or saved), other hosts a page may send queries and documents to (EXPLORER_LLM_HOSTS), requests in
    # flight at once (EXPLORER_LLM_CONCURRENCY) and seconds one answer may take (EXPLORER_LLM_TIMEOUT)
    llm_url: str = "https://api.openai.com/v1"
    llm_model: str = ""
    llm_key_variable: str = "OPENAI_API_KEY"
    llm_api_key: str = field(default="", repr=False)
    llm_hosts: tuple[str, ...] = ()
    llm_concurrency: int = 4
    llm_timeout_s: float = 60.0

    @property
    def readable_roots(self) -> tuple[Path, ...]:
        """The folders the pages read typed paths from: the sample data, the cache folder (saved data sets) and
        ``data_dirs``. The command line is not limited to them."""
        return (SAMPLE_DATA, self.cache_dir, *self.data_dirs)

    @property
    def judgements_path(self) -> Path:
        """The workspace's judgements file (SQLite), shared by the pages and the command line."""
        return self.cache_dir / "judgements.sqlite"

    @property
    def milvus_lite_path(self) -> Path:
        """The workspace's embedded Milvus (milvus-lite) database, used when no Milvus URI is set."""
        return self.cache_dir / "milvus.db"

    @property
    def snapshots_path(self) -> Path:
        """The workspace's saved evaluations (SQLite)."""
        return self.cache_dir / "snapshots.sqlite"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Settings from environment variables (``environ``, default ``os.environ``): the EXPLORER_* ones,
        HF_HUB_OFFLINE and HF_ENDPOINT. Unset ones keep the defaults."""
        env = os.environ if environ is None else environ
        hub_mode: HubMode = "auto"
        if env.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
            hub_mode = "offline"
        mode = env.get("EXPLORER_HUB", "").lower()
        if mode in {"auto", "online", "offline"}:
            hub_mode = mode  # type: ignore[assignment]
        cache = env.get("EXPLORER_CACHE_DIR")
        return cls(
            cache_dir=Path(cache).expanduser() if cache else cls().cache_dir,
            hub_mode=hub_mode,
            hub_endpoint=env.get("HF_ENDPOINT", "https://huggingface.co"),
            max_upload_mb=_number(env.get("EXPLORER_MAX_UPLOAD_MB"), default=200),
            max_document_mb=_number(env.get("EXPLORER_MAX_DOCUMENT_MB"), default=4),
            models_dir=Path(env["EXPLORER_MODELS_DIR"]).expanduser() if env.get("EXPLORER_MODELS_DIR") else cls().models_dir,
            rerank_int8=env.get("EXPLORER_RERANK_INT8", "1").lower() not in {"0", "false", "no", "off"},
            engine_path=engine_path_from(env),
            bench_data=Path(env["EXPLORER_BENCH_DATA"]).expanduser() if env.get("EXPLORER_BENCH_DATA") else None,
            shared_workspace=env.get("EXPLORER_SHARED_WORKSPACE", "").lower() in {"1", "true", "yes", "on"},
            milvus_uri=env.get("EXPLORER_MILVUS_URI", "").strip(),
            milvus_token=env.get("MILVUS_TOKEN", ""),
            milvus_hosts=tuple(part.strip().lower() for part in env.get("EXPLORER_MILVUS_HOSTS", "").split(",")
                               if part.strip()),
            data_dirs=tuple(Path(part).expanduser() for part in env.get("EXPLORER_DATA_DIRS", "").split(os.pathsep)
                            if part.strip()),
            cohere_api_key=env.get("COHERE_API_KEY", "").strip(),
            voyage_api_key=env.get("VOYAGE_API_KEY", "").strip(),
            jina_api_key=env.get("JINA_API_KEY", "").strip(),
            rerank_api_key=env.get("RERANK_API_KEY", "").strip(),
            cohere_url=env.get("EXPLORER_COHERE_URL", "").strip() or cls.cohere_url,
            voyage_url=env.get("EXPLORER_VOYAGE_URL", "").strip() or cls.voyage_url,
            jina_url=env.get("EXPLORER_JINA_URL", "").strip() or cls.jina_url,
            rerank_hosts=tuple(part.strip().lower() for part in env.get("EXPLORER_RERANK_HOSTS", "").split(",")
                               if part.strip()),
            remote_timeout_s=_number(env.get("EXPLORER_REMOTE_TIMEOUT"), default=30.0),
            remote_retries=_number(env.get("EXPLORER_REMOTE_RETRIES"), default=3, zero_allowed=True),
            **_llm_settings(env),
        )


def _llm_settings(env: Mapping[str, str]) -> dict[str, object]:
    """The chat endpoint's settings from the environment (see the ``llm_*`` fields)."""
    variable = env.get("EXPLORER_LLM_KEY_VARIABLE", "").strip() or Settings.llm_key_variable
    return dict(
        llm_url=env.get("EXPLORER_LLM_URL", "").strip() or Settings.llm_url,
        llm_model=env.get("EXPLORER_LLM_MODEL", "").strip(),
        llm_key_variable=variable,
        llm_api_key=env.get(variable, "").strip(),
        llm_hosts=tuple(part.strip().lower() for part in env.get("EXPLORER_LLM_HOSTS", "").split(",") if part.strip()),
        llm_concurrency=_number(env.get("EXPLORER_LLM_CONCURRENCY"), default=4),
        llm_timeout_s=_number(env.get("EXPLORER_LLM_TIMEOUT"), default=60.0),
    )


def engine_path_from(environ: Mapping[str, str]) -> EnginePath:
    """EXPLORER_ENGINE's path; an unknown one is an error that lists the paths (a forced path silently ignored
    would let a test run claim a path it never took)."""
    wanted = environ.get("EXPLORER_ENGINE", "").strip().lower() or "auto"
    if wanted not in ENGINE_PATHS:
        raise ConfigError(f"EXPLORER_ENGINE={wanted!r} is not a path; choose one of: {', '.join(ENGINE_PATHS)}.")
    return wanted  # type: ignore[return-value]


def _number(text: str | None, default: _Number, zero_allowed: bool = False) -> _Number:
    """``text`` read as a number of ``default``'s type when it is above 0 (or 0 where ``zero_allowed``: a retry count
    of 0 means no retry); ``default`` when it is unset, not a number or out of range."""
    try:
        value = type(default)(text) if text else default
    except ValueError:
        return default
    return value if value > 0 or (zero_allowed and value == 0) else default
