"""The pipeline file offered for download on a page: the configuration it shows, with its threshold and figures."""

from __future__ import annotations

import json

import streamlit as st

from explorer.errors import ExplorerError
from explorer.export.pipeline_file import Measured, Threshold, pipeline_file
from explorer.spec import OpenPipeline


def export_button(opened: OpenPipeline, threshold: Threshold | None, measured: Measured | None, key: str,
                  place=st) -> None:
    """A download button for the pipeline file of ``opened`` (or, when it cannot be made, the reason)."""
    try:
        content = pipeline_file(opened, threshold, measured).to_json()
    except ExplorerError as exc:
        place.caption(f"The pipeline cannot be exported as it is: {exc}")
        return
    place.download_button(
        "Export this pipeline (JSON)", json.dumps(content, indent=2) + "\n", file_name="pipeline.json",
        mime="application/json", key=key,
        help="The first stage, models (with fingerprints), depth, blend, passages and threshold"
             + (", with the figures measured here" if measured else "") + ", as one file a service runs "
             "(`python -m explorer export` writes the same from the command line).")
