"""Rerankers trained by the explorer: a normal sentence-transformers model folder plus ``explorer_card.json``.

The card says what the model was trained on, for how many steps, and how it did on held-out queries before
and after. Loading such a folder needs the project's own joint-cosine head class; it is resolved to the
class in this package (never to code from the folder), so ``trust_remote_code`` stays off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD = "explorer_card.json"
JOINT_HEAD_REF = "explorer.joint_scorer.JointMeanCosine"
DEFAULT_RERANKER_DIR = "default-reranker"


def read_card(folder: Path) -> dict[str, Any] | None:
    path = Path(folder) / CARD
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def save_reranker(model: Any, folder: Path, card: dict[str, Any]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    (folder / CARD).write_text(json.dumps(card, indent=1, default=str), encoding="utf-8")
    summary = ["", "## Trained by the relevance explorer", ""]
    summary += [f"- **{key}**: {value}" for key, value in card.items() if not isinstance(value, (dict, list))]
    for key, value in card.items():
        if isinstance(value, dict):
            summary.append(f"- **{key}**: " + ", ".join(f"{k} {v}" for k, v in value.items()))
    with (folder / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\n".join(summary) + "\n")
    return folder


def load_trained_reranker(folder: Path, device: str) -> Any:
    from sentence_transformers import CrossEncoder

    from explorer.joint_scorer import JointMeanCosine

    # The only class resolved by name is the project's own head; anything else in modules.json still needs
    # trust_remote_code and is refused without it.
    return CrossEncoder._load_with_module_classes(str(folder), {JOINT_HEAD_REF: JointMeanCosine}, device=device,
                                                  local_files_only=True)
