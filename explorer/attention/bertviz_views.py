"""bertviz head and model views of a pair, as self-contained HTML that works with no network.

bertviz's HTML loads require.js, d3 and jQuery from a CDN, so offline it draws nothing. Here the CDN loader
is dropped and the two libraries are inlined from Python packages the project installs: d3 5.7.0 (the
version bertviz asks for) from ``mpld3``, jQuery from ``xstatic-jquery``. A small stand-in for require.js
hands them to bertviz's script. If bertviz's HTML ever changes shape, this fails loudly instead of quietly
falling back to the CDN.

Only a window of the pair is drawn (see ``explorer.attention.words.window``): both views draw a line for every
pair of tokens in every head, which for a 512-token pair would hang the browser.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from importlib import metadata
from pathlib import Path

import numpy as np

from explorer.attention.model_pass import PairAttention
from explorer.errors import AttentionUnavailableError

# (distribution, file inside it): the JavaScript bertviz needs, installed by requirements.txt
SCRIPT_FILES = {
    "jquery": ("xstatic-jquery", "xstatic/pkg/jquery/data/jquery.min.js"),
    "d3": ("mpld3", "mpld3/js/d3.v5.min.js"),
}
# bertviz asks for these by name; the stand-in loader answers with the inlined libraries' globals
LOADER_STAND_IN = """
<script>
window.require = {config: function () {}};
window.requirejs = function (names, ready) {
  var found = {jquery: window.jQuery, d3: window.d3};
  ready.apply(null, names.map(function (name) { return found[name]; }));
};
</script>
"""
_REQUIRE_TAG = re.compile(r'<script src="https?://[^"]*require[^"]*"></script>')
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)
# bertviz substitutes its parameters for a marker that also appears in a comment on the same line, which
# would send every weight twice: the line is rebuilt with the parameters once, compact.
_PARAMS_LINE = re.compile(r"const params = (.*?); // HACK: [^\n]*")
# Weights are rounded for the page: three decimals are more than a line's opacity can show, and they keep
# the embedded JSON a fraction of its full-precision size.
DECIMALS = 3
# How much a view may draw. The head view carries every layer's weights for its layer menu (twice over, for
# its sentence A/B filters); the model view draws a line per token pair in every head of every layer.
HEAD_VIEW_WEIGHTS = 500_000
MODEL_VIEW_LINES = 100_000
MIN_DRAWN, MAX_DRAWN = 8, 96


@functools.lru_cache(maxsize=1)
def script_library() -> str:
    """jQuery and d3 as inline <script> elements, read from the installed packages."""
    parts = []
    for name, (distribution, file) in SCRIPT_FILES.items():
        try:
            path = Path(str(metadata.distribution(distribution).locate_file(file)))
            code = path.read_text(encoding="utf-8")
        except (metadata.PackageNotFoundError, OSError) as exc:
            raise AttentionUnavailableError(
                f"The bertviz views need {name} from the Python package {distribution}, which is missing "
                f"({exc}). Install the project's requirements: bash scripts/setup.sh"
            ) from exc
        if "</script" in code.lower():
            raise AttentionUnavailableError(f"{file} from {distribution} cannot be inlined in a page as it is. "
                                            "Install the version pinned in requirements.txt.")
        parts.append(f"<script>/* {name}, from the {distribution} package */\n{code}\n</script>")
    return "\n".join(parts)


def offline_html(bertviz_html: str, view: str = "") -> str:
    """bertviz's returned HTML with its CDN loader replaced by inlined libraries; nothing left to fetch.

    ``view`` ("head", "model") names the view on the page's body, for whoever needs to tell them apart."""
    without_loader, removed = _REQUIRE_TAG.subn("", bertviz_html)
    without_config, configured = _REQUIRE_CONFIG.subn("", without_loader)
    if removed != 1 or configured != 1:
        raise AttentionUnavailableError(
            "bertviz's page has changed shape (its require.js loader was not found where expected), so it cannot "
            "be made to work offline. Install the bertviz version pinned in requirements.txt."
        )
    visual, script = without_config.split('<script type="text/javascript">', 1)
    script, compacted = _PARAMS_LINE.subn(_compact_params, script, count=1)
    if compacted != 1:
        raise AttentionUnavailableError("bertviz's script has changed shape (its parameters were not found). "
                                        "Install the bertviz version pinned in requirements.txt.")
    # Document text reaches the script as JSON: make sure no token can close the <script> element.
    script = script.rsplit("</script>", 1)[0].replace("</", "<\\/").replace("<!--", "<\\!--")
    if re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=", visual, re.IGNORECASE):
        raise AttentionUnavailableError("The bertviz page still refers to an outside file; it would not work "
                                        "offline. Install the bertviz version pinned in requirements.txt.")
    body = f'<body style="margin:0" data-bertviz-view="{html.escape(view)}">'
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"></head>{body}'
            f"{script_library()}{LOADER_STAND_IN}{visual}<script>{script}</script></body></html>")


def _compact_params(found: re.Match) -> str:
    params = json.loads(found.group(1))
    return "const params = " + json.dumps(params, separators=(",", ":")) + ";"


def drawn_document_tokens(record: PairAttention, view: str) -> int:
    """How many document tokens a view can draw for this model and stay quick: fewer for bigger models."""
    cells = record.layers * record.heads
    budget = HEAD_VIEW_WEIGHTS / (2 * cells) if view == "head" else MODEL_VIEW_LINES / cells
    other = len(record.tokens) - len(record.document_positions)  # query and special tokens, always drawn
    return max(MIN_DRAWN, min(MAX_DRAWN, int(math.sqrt(budget)) - other))


def _layers(record: PairAttention) -> tuple:
    import torch

    rounded = np.round(record.attentions.astype(np.float64), DECIMALS)
    return tuple(torch.from_numpy(layer).unsqueeze(0) for layer in rounded)


def head_view_html(record: PairAttention) -> str:
    """bertviz's head view (one layer at a time, every head) of a windowed record, with the query as sentence A."""
    from bertviz import head_view

    shown = head_view(attention=_layers(record), tokens=list(record.tokens), sentence_b_start=record.sentence_b_start,
                      html_action="return")
    return offline_html(shown.data, "head")


def model_view_html(record: PairAttention) -> str:
    """bertviz's model view (a thumbnail per layer and head) of a windowed record."""
    from bertviz import model_view

    shown = model_view(attention=_layers(record), tokens=list(record.tokens), sentence_b_start=record.sentence_b_start,
                       display_mode="light", html_action="return")
    return offline_html(shown.data, "model")
