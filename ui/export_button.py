"""The pipeline file offered for download on a page: the configuration it shows, with its threshold and figures."""

from __future__ import annotations

import json

import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.score_calibration import Calibration
from explorer.export.pipeline_file import Measured, Threshold, pipeline_file
from explorer.spec import OpenPipeline


def export_button(opened: OpenPipeline, threshold: Threshold | None, measured: Measured | None, key: str,
                  place=st, calibration: Calibration | None = None) -> None:
    """A download button for the pipeline file of ``opened`` (or, when it cannot be made, the reason), with the
    ``calibration`` of its reranker's scores when there is one. A click downloads the file and reruns nothing: a rerun
    drew the button anew beside the one clicked, and both stood there until the page's run was done."""
    try:
        content = pipeline_file(opened, threshold, measured, calibration).to_json()
    except ExplorerError as exc:
        place.caption(f"The pipeline cannot be exported as it is: {exc}")
        return
    place.download_button(
        "Export this pipeline (JSON)", json.dumps(content, indent=2) + "\n", file_name="pipeline.json",
        mime="application/json", key=key, on_click="ignore",
        help="The first stage, models (with fingerprints), depth, blend, passages and threshold"
             + (", with the figures measured here" if measured else "")
            + (" and the calibration of the reranker's scores" if calibration else "") + ", as one file a service runs "
             "(`python -m explorer export` writes the same from the command line).")
