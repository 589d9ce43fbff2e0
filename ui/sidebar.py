"""The sidebar every page shares: data set, models, depth, n, threshold and device."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from explorer.errors import ExplorerError
from explorer.inference.device import DEVICE_CHOICES
from explorer.loading.store import check_not_private, saved_datasets
from explorer.models.catalog import Role, find_preset, presets
from explorer.models.measured_speed import MeasuredSpeed, measured_speed
from explorer.models.packaged import PACKAGED_RERANKER, TRAINED_RERANKER, built_small_reranker
from explorer.models.resolution import expected_stand_in, out_of_reach, page_model_roots
from explorer.rerank.cascade import CascadeSpec
from explorer.rerank.windows import WindowOptions
from explorer.remote.llm_names import EXAMPLES as LLM_EXAMPLES
from explorer.remote.names import EXAMPLES, is_remote_name, key_status
from explorer.retrieval.first_stage import FirstStageMethod
from explorer.retrieval.milvus_connection import MilvusSource
from explorer.retrieval.passages import PassageOptions
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, SAMPLE_DATA
from explorer.spec import Blend, BlendMode, PipelineSpec
from explorer.signals.config import SignalConfig
from ui import address, cache, kept_state
from ui.signals_panel import SIGNAL_DEFAULTS, signals_choice

SAMPLE_LABEL = "Sample: engineering knowledge base"
FOLDER_LABEL = "A BEIR folder on this machine…"
LOADED_PREFIX = "Loaded: "
# Set by the Load data page; applied before the data set widget is drawn on the next run.
PENDING_DATASET = "_pending_dataset_choice"
# Set by the Thresholds page (and the Evaluate page's weight search): {widget key: value}, applied before the
# sidebar's widgets are drawn.
PENDING_THRESHOLD = "_pending_threshold"
OTHER = "Other (hub id or local folder)…"
REMOTE = "Remote API (Cohere, Voyage, Jina or a rerank endpoint)…"
NO_RERANKER = "none (first stage only)"
BI_ENCODERS = [p.name for p in presets("bi-encoder")]
RERANKERS = [p.name for p in presets("reranker")] + [TRAINED_RERANKER, PACKAGED_RERANKER, NO_RERANKER]

# Widget values that must survive moving between pages, with their defaults.
DEFAULTS: dict[str, object] = {
    "dataset_choice": SAMPLE_LABEL, "dataset_path": "", "bi_choice": DEFAULT_BI_ENCODER, "bi_other": "",
    "rr_choice": DEFAULT_RERANKER, "rr_other": "", "rr_remote": "", "depth": 100, "top_n": 10, "use_threshold": False,
    "threshold_probability": 0.5, "threshold_raw": 10.0, "device": "auto", "trust_remote_code": False,
    "split_passages": False, "passage_tokens": 200, "passage_overlap": 50,
    "blend_mode": "as the reranker recommends", "blend_weight": 0.5, "first_stage": "dense", "rater": "",
    "use_cascade": False, "cascade_small": "", "cascade_keep": 20, "use_window": False, "window_tokens": 128,
    **SIGNAL_DEFAULTS,
}
FIRST_STAGE_LABELS = {"dense": "dense (bi-encoder + FAISS)", "bm25": "BM25 (bm25s)",
                      "hybrid": "hybrid (reciprocal rank fusion)", "milvus": "Milvus (bi-encoder + Milvus)"}
# The Milvus page's choice (a MilvusSource: where, and which collection), kept for the session
MILVUS_SOURCE = "_milvus_source"
# Set by the Milvus page: the first stage to select before the sidebar is drawn on the next run
PENDING_FIRST_STAGE = "_pending_first_stage"
# the sidebar's words for the blend rules of explorer.spec.Blend
BLEND_MODES = ("as the reranker recommends", "reranker alone", "custom blend")
BLEND_RULES: dict[str, BlendMode] = dict(zip(BLEND_MODES, ("card", "alone", "custom")))


@dataclass(frozen=True)
class SidebarChoices:
    dataset_path: str
    bi_encoder: str
    reranker: str | None
    depth: int
    top_n: int
    use_threshold: bool
    threshold_probability: float
    threshold_raw: float
    device: str
    trust_remote_code: bool
    dataset_label: str = SAMPLE_LABEL
    passages: PassageOptions | None = None
    blend_mode: str = BLEND_MODES[0]
    blend_weight: float = 0.5
    first_stage_method: FirstStageMethod = "dense"
    rater: str = ""  # who is judging in this session (the Judge page saves grades under this name)
    milvus: MilvusSource = MilvusSource()  # with the Milvus first stage: where, and which collection
    cascade: CascadeSpec | None = None  # a small reranker reading every candidate first (None: no cascade)
    window: WindowOptions | None = None  # the reranker reads a long document's best window (None: from its start)
    signals: SignalConfig | None = None  # freshness, authority, numbers, diversity (None: relevance alone)

    def spec(self, reranker: str | None = "sidebar", first_stage_method: FirstStageMethod | None = None,
             depth: int | None = None) -> PipelineSpec:
        """The pipeline these choices name, with any of reranker, first-stage method and depth replaced."""
        chosen = self.reranker if reranker == "sidebar" else reranker
        return PipelineSpec(
            dataset=self.dataset_path, first_stage_method=first_stage_method or self.first_stage_method,
            bi_encoder=self.bi_encoder, reranker=chosen,
            device=self.device, trust_remote_code=self.trust_remote_code, passages=self.passages,
            depth=depth or self.depth, blend=Blend(BLEND_RULES[self.blend_mode], self.blend_weight), milvus=self.milvus,
            cascade=self.cascade if chosen else None, window=self.window if chosen else None, signals=self.signals)


MINE = "_my_datasets"  # the saved data sets this browser session loaded


def remember_my_dataset(folder: Path) -> None:
    """Lists a data set this session loaded in its own sidebar, shared or not."""
    st.session_state.setdefault(MINE, set()).add(folder.name)


def session_datasets() -> set[str] | None:
    """The saved data sets this session loaded, by folder name (None: every one, in a shared workspace)."""
    return None if cache.settings().shared_workspace else st.session_state.get(MINE, set())


def visible_datasets() -> list[Path]:
    """The saved data sets this session may open: the shared ones and its own (all, in a shared workspace)."""
    return saved_datasets(cache.settings().cache_dir / "datasets", session_datasets())


def not_private(path: str | Path) -> Path:
    """``path`` resolved, unless it is in another session's private data set: DataLoadError (the rule of
    ``explorer.loading.store.check_not_private``, for every path a visitor types)."""
    return check_not_private(path, cache.settings().cache_dir / "datasets", session_datasets())


def dataset_options() -> dict[str, str]:
    """Label shown in the sidebar -> folder. Data sets saved by the Load data page come after the sample."""
    options = {SAMPLE_LABEL: str(SAMPLE_DATA)}
    for folder in visible_datasets():
        options[LOADED_PREFIX + folder.name] = str(folder)
    options[FOLDER_LABEL] = ""
    return options


def display_names(labels: list[str]) -> dict[str, str]:
    """How the data set picker shows each choice: a saved data set by its name, without the content hash its folder
    name ends with ("Loaded: Cranfield", not "Loaded: Cranfield-bdd259d2a0"), the hash's start kept only where two
    saved data sets share a name."""
    def bare(label: str) -> str:
        return re.sub(r"-[0-9a-f]{10}$", "", label)

    saved = [label for label in labels if label.startswith(LOADED_PREFIX)]
    counts = Counter(bare(label) for label in saved)
    names = {label: label for label in labels}
    for label in saved:
        short = bare(label)
        names[label] = short if counts[short] == 1 else f"{short} ({label[len(short) + 1:len(short) + 7]})"
    return names


def _not_someone_elses(path: str) -> str:
    """``path``, unless it is another session's private data set (then "", with the reason shown)."""
    try:
        not_private(path)
    except ExplorerError as exc:
        st.error(str(exc))
        return ""
    return path


def select_dataset_next_run(label: str) -> None:
    st.session_state[PENDING_DATASET] = label


def adopt_threshold_next_run(value: float, probability: bool) -> None:
    """Switch the search page's cut-off on at ``value`` (a widget cannot change once drawn in this run)."""
    key = "threshold_probability" if probability else "threshold_raw"
    st.session_state[PENDING_THRESHOLD] = {key: value, "use_threshold": True}


SPEEDS = "_measured_speeds"


def speed_for_this_session(role: Role) -> MeasuredSpeed | None:
    """The speed measured here for ``role``, read once per session: a picker whose labels changed between two runs
    (the warm-up recording a speed meanwhile) would be another widget to Streamlit, and lose the user's choice."""
    speeds = st.session_state.setdefault(SPEEDS, {})
    if role not in speeds:
        speeds[role] = measured_speed(cache.settings().cache_dir, role)
    return speeds[role]


def describe_model(name: str, role: Role) -> str:
    """A picker's entry: the preset's size and its speed as measured here, the model that runs here when another
    stands in, and whether it cannot be had here at all (the hub out of reach), before anyone chooses it."""
    known = find_preset(name)
    settings = cache.settings()
    label = known.label(speed_for_this_session(role)) if known else name
    stand_in = expected_stand_in(name, role, settings, folder_roots=page_model_roots(settings))
    if stand_in:
        return f"{label} → runs here as {stand_in}"
    if known and out_of_reach(name, settings):
        return f"{label} · cannot load here: the model hub is out of reach"
    return label


def _model_choice(label: str, options: list[str], choice_key: str, other_key: str, role: Role) -> str:
    choice = st.selectbox(label, options + [OTHER], key=choice_key,
                          format_func=lambda name: name if name == REMOTE else describe_model(name, role))
    if choice == REMOTE:
        return _remote_choice()
    if choice == OTHER:
        return st.text_input(f"{label}: hub id or folder", key=other_key, placeholder="owner/model or /path/to/model",
                             help="A folder is opened only under the server's data folders (EXPLORER_DATA_DIRS) or "
                                  "its models folder (EXPLORER_MODELS_DIR); any other name is a hub id.")
    stand_in = expected_stand_in(choice, role, cache.settings(), folder_roots=page_model_roots(cache.settings()))
    if stand_in:  # the picker's box is narrow: the model that runs is said in full beneath it
        st.caption(f"Runs here as {stand_in}.")
    return choice


def _remote_choice() -> str:
    """A reranker behind an HTTP API, by name, with whether its key variable is set (never the key)."""
    name = st.text_input("Remote reranker", key="rr_remote", placeholder=EXAMPLES[0],
                         help="cohere:MODEL, voyage:MODEL, jina:MODEL, or rerank-api:URL (a service answering "
                              "POST URL/v1/rerank, such as `python -m explorer serve`), e.g. "
                              + ", ".join(f"`{e}`" for e in EXAMPLES) + "; or an LLM reranker through an "
                              "OpenAI-compatible chat endpoint: llm-pointwise:MODEL or llm-listwise:MODEL "
                              "(EXPLORER_LLM_URL, or MODEL@URL), e.g. " + ", ".join(f"`{e}`" for e in LLM_EXAMPLES) + ". Keys "
                              "(COHERE_API_KEY, VOYAGE_API_KEY, JINA_API_KEY, RERANK_API_KEY, OPENAI_API_KEY) are read "
                              "from the server's environment only."
                         ).strip()
    if is_remote_name(name):
        try:
            st.caption(key_status(name, cache.settings()))
        except ExplorerError as exc:
            st.caption(str(exc))
    elif name:
        st.caption("Start the name with cohere:, voyage:, jina:, rerank-api:, llm-pointwise: or llm-listwise:.")
    return name


def _address_labels() -> dict[str, str]:
    return {"sample": SAMPLE_LABEL, "loaded": LOADED_PREFIX, "folder": FOLDER_LABEL, "other": OTHER, "remote": REMOTE}


def sidebar() -> SidebarChoices:
    address.read_once(cache.settings().cache_dir, _address_labels())
    kept_state.restore(DEFAULTS)
    options = dataset_options()
    if PENDING_DATASET in st.session_state:
        st.session_state["dataset_choice"] = st.session_state.pop(PENDING_DATASET)
    st.session_state.update(st.session_state.pop(PENDING_THRESHOLD, {}))
    if PENDING_FIRST_STAGE in st.session_state:
        st.session_state["first_stage"] = st.session_state.pop(PENDING_FIRST_STAGE)
    if st.session_state["dataset_choice"] not in options:
        st.session_state["dataset_choice"] = SAMPLE_LABEL
    with st.sidebar:
        st.header("Settings")
        shown = display_names(list(options))
        source = st.selectbox("Data set", list(options), key="dataset_choice", format_func=shown.get,
                              help="Load your own on the Load data page.")
        path = options[source]
        if source == FOLDER_LABEL:
            path = st.text_input("Folder (corpus.jsonl, queries.jsonl, qrels/)", key="dataset_path").strip()
            path = _not_someone_elses(str(Path(path).expanduser())) if path else ""
        first_stage = st.selectbox("First stage", list(FIRST_STAGE_LABELS), key="first_stage",
                                   format_func=FIRST_STAGE_LABELS.get,
                                   help="Dense uses the bi-encoder; hybrid fuses dense and BM25 by reciprocal rank; "
                                        "Milvus searches the bi-encoder's vectors in Milvus (see the Milvus page).")
        milvus = st.session_state.get(MILVUS_SOURCE, MilvusSource())
        if first_stage == "milvus":
            st.caption(milvus_summary(milvus) + " To attach your own collection or choose a server: the Milvus page.")
        bi = _model_choice("Bi-encoder", BI_ENCODERS, "bi_choice", "bi_other", "bi-encoder")
        rr = _model_choice("Reranker", RERANKERS + [REMOTE], "rr_choice", "rr_other", "reranker")
        depth = st.slider("Candidate depth k", 10, 200, step=10, key="depth",
                          help="How many first-stage candidates the reranker reads.")
        top_n = st.slider("Results shown n", 1, 50, key="top_n")
        blend_mode = st.selectbox("Ranking score", BLEND_MODES, key="blend_mode",
                                  help="Rerankers trained here do best blended with the first-stage score; "
                                       "their card records the weight that did best on held-out queries.")
        blend_weight = st.slider("Reranker weight in the blend", 0.0, 1.0, step=0.05, key="blend_weight",
                                 disabled=blend_mode != BLEND_MODES[2])
        cascade = _cascade_choice(rr != NO_RERANKER)
        window = _window_choice(rr != NO_RERANKER)
        signals = signals_choice(path)
        use_threshold = st.checkbox("Cut off results under a reranker score", key="use_threshold")
        threshold_probability = st.slider("Threshold (probability)", 0.0, 1.0, step=0.01, key="threshold_probability",
                                          disabled=not use_threshold,
                                          help="Used for rerankers with a single-logit output (0-1 probability).")
        threshold_raw = st.number_input("Threshold (raw score)", step=0.5, key="threshold_raw",
                                        disabled=not use_threshold,
                                        help="Used for rerankers without a probability, on their raw score scale.")
        split = st.checkbox("Split long documents into passages", key="split_passages",
                            help="Each passage is searched on its own; a document scores as its best passage.")
        passages = None
        if split:
            tokens = st.number_input("Passage length (tokens)", 32, 512, step=16, key="passage_tokens")
            overlap = st.number_input("Overlap (tokens)", 0, 256, step=8, key="passage_overlap")
            try:
                passages = PassageOptions(int(tokens), int(overlap))
            except ExplorerError as exc:
                st.error(str(exc))
        device = st.selectbox("Device", list(DEVICE_CHOICES), key="device",
                              help="auto: CUDA, else Apple MPS, else CPU.")
        trust = st.checkbox("Allow the models' own code (trust_remote_code)", key="trust_remote_code",
                            help="Off unless you have read the model's code: it runs on this machine.")
        rater = st.text_input("Rater (your name, for judging)", key="rater", max_chars=60,
                              help="Grades saved on the Judge page are kept under this name, so raters never "
                                   "overwrite each other and their agreement can be measured.")
        if address.NOTE in st.session_state:
            st.warning(st.session_state.pop(address.NOTE))
    kept_state.remember(DEFAULTS)
    reranker = None if rr == NO_RERANKER else rr.strip()
    address.write(cache.settings().cache_dir, source, path, _address_labels(), first_stage, reranker,
                  " ".join(str(rater).split()))
    return SidebarChoices(
        dataset_path=path, bi_encoder=bi.strip(), reranker=reranker, depth=int(depth),
        top_n=int(top_n), use_threshold=bool(use_threshold), threshold_probability=float(threshold_probability),
        threshold_raw=float(threshold_raw), device=str(device), trust_remote_code=bool(trust),
        dataset_label=source, passages=passages, blend_mode=str(blend_mode), blend_weight=float(blend_weight),
        first_stage_method=first_stage, rater=" ".join(str(rater).split()), milvus=milvus, cascade=cascade,
        window=window, signals=signals,
    )


def _cascade_choice(has_reranker: bool) -> CascadeSpec | None:
    """The cascade switch: a small reranker (the one built here by default) reads every candidate, the reranker
    only its top M. None when off, or when no small reranker is named or built."""
    use = st.checkbox("Cascade: a small reranker reads every candidate first", key="use_cascade",
                      disabled=not has_reranker,
                      help="The reranker then reads only the small one's top M: far fewer pairs, at some risk of "
                           "missing what the small one ranked low. Evaluate measures the cost in nDCG.")
    if not use or not has_reranker:
        return None
    built = built_small_reranker(cache.settings())
    name = st.text_input("Small reranker (hub id or folder)", key="cascade_small",
                         placeholder=built or "a hub id or folder",
                         help="Empty: the small reranker built here (python -m explorer build-small-reranker).")
    keep = st.slider("Candidates the reranker reads (M)", 5, 100, step=5, key="cascade_keep")
    chosen = name.strip() or built
    if not chosen:
        st.warning("No small reranker is built here yet: build one with `python -m explorer build-small-reranker` "
                   "(a few minutes), or name one above.")
        return None
    return CascadeSpec(chosen, int(keep))


def _window_choice(has_reranker: bool) -> WindowOptions | None:
    """The reranker's window: of a document longer than N tokens it reads the best N-token window for the query
    (by the query's rare words) instead of the first tokens. None when off."""
    use = st.checkbox("Reranker reads each long document's best window", key="use_window",
                      disabled=not has_reranker,
                      help="Fewer tokens per pair cost less time, and the part that matches the query is read "
                           "even where it lies past the reranker's limit. Evaluate measures what it does to nDCG.")
    if not use or not has_reranker:
        return None
    tokens = st.slider("Window (document tokens the reranker reads)", 32, 256, step=16, key="window_tokens")
    return WindowOptions(int(tokens))


def milvus_summary(source: MilvusSource) -> str:
    """Where the Milvus first stage runs, in words for the sidebar (never a token)."""
    from explorer.milvus_pipeline import milvus_target

    where = milvus_target(source, cache.settings()).label
    if source.attached:
        return f"Collection **{source.collection}** at {where}, read only" + (
            f", filter `{source.filter}`" if source.filter else "") + "."
    return f"This corpus's own collection, built once in {where}."
