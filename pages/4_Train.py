"""Train page: fine-tune a reranker on the data set being explored, and see held-out nDCG@10 before and after."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.models.resolution import page_model_roots
from explorer.remote.names import check_remote_allowed
from explorer.settings import DEFAULT_RERANKER
from explorer.training.run import TrainRequest, check_folders
from explorer.training.trainer import TrainSettings
from ui import cache
from ui.sidebar import sidebar
from ui.training_job import current_job, start_job

choices = sidebar()
settings = cache.settings()
st.title("Train a reranker")
st.caption("Fine-tunes a cross-encoder on this data set, starting from the packaged all-MiniLM-L6-v2 encoder, and "
           "measures it on held-out queries before and after. On 2 CPU cores, 100 steps take about 3-4 minutes.")

try:
    data = cache.dataset(choices.dataset_path)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

splits = list(data.splits)
left, right = st.columns(2)
use_labels = left.checkbox("Train on labelled queries", value=bool(splits), disabled=not splits, key="train_labels")
split = left.selectbox("Training split", splits or ["(no labels)"], key="train_split", disabled=not use_labels)
held_out = left.selectbox("Held-out split (never trained on)", splits or ["(no labels)"], key="train_held_out",
                          index=min(1, len(splits) - 1) if splits else 0)
pseudo = right.selectbox("Pseudo-queries from the corpus", ["none", "title", "sentence"], key="train_pseudo",
                         help="No labels needed: a title, or a sentence taken out of a document, becomes a query.")
steps = right.number_input("Steps", 10, 2000, 150, step=10, key="train_steps")
learning_rate = right.select_slider("Learning rate", [1e-5, 2e-5, 5e-5, 1e-4], value=5e-5, key="train_lr")
LOSSES = {"listwise": "listwise: the positive against 7 hard negatives",
          "graded-listwise": "graded listwise (ListNet): near-misses keep their partial grade",
          "pointwise": "pointwise: binary cross-entropy per pair",
          "distill": "distil a teacher reranker's scores"}
loss = right.selectbox("Loss", list(LOSSES), format_func=LOSSES.get, key="train_loss")
teacher, student_layers = None, None
if loss == "distill":
    teacher = right.text_input("Teacher reranker (hub id, folder, or 'default')", "default", key="train_teacher",
                               help="A folder is opened only under the server's data folders (EXPLORER_DATA_DIRS) "
                                    "or its models folder (EXPLORER_MODELS_DIR); any other name is a hub id.")
    student_layers = right.number_input("Student layers (of the base encoder's 6)", 1, 6, 6, key="train_student_layers")
frozen_layers = right.number_input("Frozen lower layers", 0, 5, 0, key="train_frozen",
                                   help="Freezing the embeddings and lower layers makes steps faster and keeps more "
                                        "of what the encoder knew, which helps on little data.")
same_split = bool(use_labels) and split == held_out
if same_split:
    st.caption(f"Training and held-out split are both '{split}': a third of its queries are held out and never "
               "trained on.")
name = st.text_input("Save as", value=f"reranker-{dt.datetime.now():%Y%m%d-%H%M}", key="train_name")

job = current_job()
if st.button("Start training", type="primary", disabled=bool(job and job.running), key="train_start"):
    if not splits:
        st.error("This data set has no labelled split to measure on. Load queries and labels first.")
    else:
        request = TrainRequest(
            data=Path(choices.dataset_path), out=settings.models_dir / name, split=str(split), held_out=str(held_out),
            use_labels=bool(use_labels), pseudo=None if pseudo == "none" else pseudo, bi_encoder=choices.bi_encoder,
            held_out_share=0.33 if same_split else None,
            settings=TrainSettings(steps=int(steps), learning_rate=float(learning_rate), loss=loss,
                                   frozen_layers=int(frozen_layers),
                                   student_layers=int(student_layers) if student_layers is not None else None),
            teacher=(DEFAULT_RERANKER if teacher == "default" else teacher.strip()) if teacher else None,
            # typed on a page: folders only where the sidebar's model boxes and data set box may open them
            model_roots=page_model_roots(settings), readable_roots=settings.readable_roots,
        )
        try:
            check_remote_allowed(request.teacher, settings)  # a typed rerank-api URL would get the training queries
            check_folders(request)  # refused now, not after minutes of the run
            job = start_job(request, settings, cache.device(choices.device))
        except ExplorerError as exc:
            st.error(str(exc))


@st.fragment(run_every=2.0)
def show_job() -> None:
    job = current_job()
    if job is None:
        return
    st.subheader("Training run")
    if job.running:
        st.progress(job.step / max(job.total, 1), text=job.pace.status(job.step, job.total)
                    + (f" · loss {job.loss:.3f}" if job.loss is not None else ""))
        if st.button("Stop after this step", key="train_stop"):
            job.stop.stop()
    st.text("\n".join(job.lines[-12:]))
    if job.error:
        st.error(job.error)
    if job.result is not None:
        result = job.result
        table = pd.DataFrame([result.before, result.after], index=["before training", "after training"])
        st.dataframe(table, key="train_result")
        gain = result.after.get("reranked", 0) - result.after.get("first stage", 0)
        verdict = "raises" if gain > 0 else "lowers"
        st.caption(f"On the held-out queries the trained reranker alone {verdict} nDCG@10 by {abs(gain):.3f} "
                   f"against the first stage. Saved to {result.folder}; choose it in the sidebar as "
                   "'Other' with that folder.")


show_job()
