"""Rerankers trained by the explorer: a normal sentence-transformers model folder plus ``explorer_card.json``.

The card says what the model was trained on, for how many steps, and how it did on held-out queries before
and after. Loading such a folder needs the project's own joint-cosine head class; it is resolved to the
class in this package (never to code from the folder), so ``trust_remote_code`` stays off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from explorer.errors import ModelLoadError
from explorer.models.info import ModelInfo
from explorer.models.packaged import folder_fingerprint

CARD = "explorer_card.json"
JOINT_HEAD_REF = "explorer.models.joint_head.JointMeanCosine"
# Models saved before the engine was laid out in packages name the head by its old module path.
LEGACY_JOINT_HEAD_REFS = ("explorer.joint_scorer.JointMeanCosine",)
DEFAULT_RERANKER_DIR = "default-reranker"
REBUILD_HINT = ("Build the default reranker again with: python -m explorer build-default-reranker (the set-up does "
                "it when its files are damaged); train any other again on the Train page.")


class DamagedModelError(ModelLoadError):
    """A model folder saved here whose files cannot be read (truncated or corrupted weights, a broken config)."""


def read_card(folder: Path) -> dict[str, Any] | None:
    """The explorer card in ``folder``, or None when there is none or it is not a readable JSON object."""
    path = Path(folder) / CARD
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def save_reranker(model: Any, folder: Path, card: dict[str, Any]) -> Path:
    """Saves the model to ``folder`` with its card and adds the card's figures to its README.md; returns the folder."""
    folder = save_weights(model, folder)
    write_card(folder, card)
    return folder


def save_weights(model: Any, folder: Path) -> Path:
    """Saves the model to ``folder`` without a card: until ``write_card``, the folder is not a finished reranker
    (``read_card`` finds none), so a build stopped in between is built again. Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CARD).unlink(missing_ok=True)
    model.save_pretrained(str(folder))
    return folder


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """Writes the card into a saved model's folder and adds its figures to the folder's README.md."""
    folder = Path(folder)
    summary = ["", "## Trained by the relevance explorer", ""]
    summary += [f"- **{key}**: {value}" for key, value in card.items() if not isinstance(value, (dict, list))]
    for key, value in card.items():
        if isinstance(value, dict):
            summary.append(f"- **{key}**: " + ", ".join(f"{k} {v}" for k, v in value.items()))
    with (folder / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\n".join(summary) + "\n")
    # the card last: its presence says the folder is complete
    (folder / CARD).write_text(json.dumps(card, indent=1, default=str), encoding="utf-8")


def load_trained_reranker(folder: Path, device: str) -> Any:
    """A CrossEncoder from a folder saved here (local files only), its joint-cosine head resolved to this package."""
    from safetensors import SafetensorError
    from sentence_transformers import CrossEncoder

    from explorer.models.joint_head import JointMeanCosine

    # The only class resolved by name is the project's own head; anything else in modules.json still needs
    # trust_remote_code and is refused without it.
    heads = {ref: JointMeanCosine for ref in (JOINT_HEAD_REF, *LEGACY_JOINT_HEAD_REFS)}
    try:
        return CrossEncoder._load_with_module_classes(str(folder), heads, device=device, local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as exc:
        if "trust_remote_code" in str(exc):
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DamagedModelError(
            f"The reranker saved in {folder} cannot be read ({type(exc).__name__}: {reason}): its files are damaged "
            f"or incomplete. {REBUILD_HINT}") from exc


def unreadable_weights(folder: Path) -> str | None:
    """Why the weights saved in ``folder`` cannot be read (checked from their headers, without loading them), or
    None when they can: for a picker that names the model that will run, before loading it."""
    from safetensors import SafetensorError, safe_open

    for weights in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(weights), framework="pt") as opened:
                opened.keys()
        except (OSError, SafetensorError) as exc:
            return f"{weights.name}: {exc}"
    return None


def trained_info(name: str, folder: Path, why: str) -> ModelInfo:
    """The ModelInfo of a reranker trained here: what it was trained on and its held-out figures, from its card."""
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
        fingerprint=folder_fingerprint(folder),
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
