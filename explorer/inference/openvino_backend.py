"""The transformer of a sentence-transformers model, run by OpenVINO: bf16 on CPUs with AMX / AVX-512 BF16.

On this kind of CPU, OpenVINO's fused kernels (attention, bias + GELU, packed bf16 weights on the AMX tiles)
run a MiniLM about four times faster than PyTorch in fp32 and about twice as fast as PyTorch in bf16, with
the same ranking (Spearman above 0.999 on real pairs; the benchmark measures it).

For rerankers there is one step further: int8. NNCF quantises the converted graph's matrix products to int8
(VNNI / AMX int8) from a fixed set of calibration pairs (``explorer.inference.calibration``), while softmax and
normalisation stay in bf16; on this machine that is about 1.4 times faster again than bf16, at a Spearman of
about 0.995 with fp32 instead of 0.9999 (``python -m explorer bench`` reports both).

Only the transformer (the model's first module) is converted; the heads after it (pooling, normalisation,
the joint-cosine head) run in PyTorch in fp32 on its output, unchanged. The converted model is kept on disk
as OpenVINO IR (an XML graph and a binary weights file; no pickle), keyed by a digest of the weights, the
versions and the precision, so a later process reads it back in a fraction of a second instead of
converting again. A damaged entry is converted again, never trusted.

OpenVINO is optional: without it (or with ``openvino-telemetry`` installed, see ``unavailable_reason``) the
engine runs the model in PyTorch and says so.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import itertools
import json
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from explorer.errors import BackendUnavailableError
from explorer.inference.device import isa_cap_allows_bf16

logger = logging.getLogger(__name__)

# The inputs a text transformer's forward takes from the tokenizer, in the order the converted graph takes them.
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# int8: the matrix products quantised to int8 (VNNI / AMX), everything else in bf16
PRECISION_HINTS = {"bf16": "bf16", "fp32": "f32", "int8": "bf16"}
# instruction sets named in the CPU plugin's kernel names, most capable first (``kernel_isas``)
ISA_NAMES = ("amx", "avx512", "avx2", "sse42")


def precision_hint(precision: str, int8_rest: str = "bf16", environ: Mapping[str, str] | None = None) -> str:
    """The CPU plugin's INFERENCE_PRECISION_HINT for a graph in ``precision`` (an int8 graph computes the rest of
    its operations in ``int8_rest``). A bf16 hint becomes f32 where ``ONEDNN_MAX_CPU_ISA`` (in ``environ``, by
    default the process's) caps oneDNN below the bf16 units: the plugin reads the CPU's bf16 units from the CPU
    itself and would plan bf16 kernels that the capped oneDNN does not have (compiling failed at a Softmax), where
    a CPU really without them runs such a hint in f32 by itself."""
    hint = PRECISION_HINTS[int8_rest if precision == "int8" and int8_rest in ("bf16", "fp32") else precision]
    cap = (os.environ if environ is None else environ).get("ONEDNN_MAX_CPU_ISA", "")
    return "f32" if hint == "bf16" and not isa_cap_allows_bf16(cap) else hint


def unavailable_reason() -> str | None:
    """Why OpenVINO cannot be used here, or None when it can."""
    if importlib.util.find_spec("openvino") is None:
        return "OpenVINO is not installed (pip install -r requirements.txt installs it)."
    if importlib.util.find_spec("openvino_telemetry") is not None:
        # `import openvino` sends a usage event to its vendor unless this package is absent or opted out.
        return ("openvino-telemetry is installed, and with it `import openvino` sends usage events, so the "
                "OpenVINO backend stays off. Remove it with: pip uninstall -y openvino-telemetry "
                "(OpenVINO works without it).")
    return None


def convertible_output(transformer: Any) -> str | None:
    """The output name OpenVINO would produce for this sentence-transformers Transformer module, or None when
    the module is not a plain text transformer (multimodal inputs, custom methods, hidden-state outputs)."""
    config = getattr(transformer, "modality_config", None)
    if not isinstance(config, dict) or set(config) != {"text"}:
        return None
    text = config["text"]
    if text.get("method") != "forward" or not isinstance(text.get("method_output_name"), str):
        return None
    backbone = hf_model(transformer)
    if backbone is None or getattr(backbone.config, "output_hidden_states", False):
        return None
    if not isinstance(getattr(transformer, "module_output_name", None), str):
        return None
    return str(text["method_output_name"])


def computed_precision(hint: Any) -> str:
    """"bf16" or "fp32": what a compiled model's precision hint says it computes in (OpenVINO names the type
    ``bfloat16``, or ``bf16`` in older releases)."""
    effective = str(getattr(hint, "get_type_name", lambda: hint)()).lower()
    return "bf16" if "bf16" in effective or "bfloat16" in effective else "fp32"


# The CPU plugin keeps the kernels it made for each input shape (a batch's rows x tokens), 5,000 of them by default.
# The engine's batches come in many shapes, so a process that serves or searches for long grew by about 12 MB a
# call, past 4 GB in 300 calls of new shapes (the int8 reranker here). 200 kept it near 1.35 GB, with no change in
# the speed of repeated shapes measured (the benchmark's queries: 813 against 820 ms; with none kept, 849 ms).
RUNTIME_CACHE_ENTRIES = 200


class OpenVinoTransformer:
    """Callable like the module it replaces: features in, features with the module's output added."""

    def __init__(self, transformer: Any, precision: str, compiled_dir: Path | None, example: dict[str, Any],
                 calibration: Callable[[], Sequence[dict[str, Any]]] | None = None, int8_rest: str = "bf16") -> None:
        """``calibration``: makes tokenised batches of typical inputs; needed (only) for ``precision="int8"``,
        and called only when there is no quantised graph to read back. ``int8_rest``: what an int8 graph computes
        the rest in ("bf16" where the CPU has the units, else "fp32", so a CPU capped below them is not asked)."""
        reason = unavailable_reason()
        if reason is not None:
            raise BackendUnavailableError(reason)
        if precision not in PRECISION_HINTS:
            raise BackendUnavailableError(f"OpenVINO runs here in int8, bf16 or fp32, not {precision}; "
                                          "the PyTorch backend serves that precision.")
        if precision == "int8":
            reason = int8_unavailable_reason()
            if reason is not None:
                raise BackendUnavailableError(reason)
            if calibration is None:
                raise BackendUnavailableError("int8 needs calibration inputs (typical texts) to set its scales.")
        output = convertible_output(transformer)
        if output is None:
            raise BackendUnavailableError("This model's transformer is not a plain text transformer that OpenVINO "
                                          "can take; it runs in PyTorch.")
        import openvino as ov

        self.inputs = tuple(name for name in TEXT_INPUTS if name in example)
        self.module_output = str(transformer.module_output_name)
        self.precision = precision
        backbone = hf_model(transformer)
        core = ov.Core()
        inputs = self.inputs
        if precision == "int8" and calibration is not None:
            make = calibration

            def quantised() -> Any:
                # the fp32 graph and the calibration batches are needed only here: a kept int8 graph is read alone
                fp32 = _cached_or_converted(core, backbone, output, inputs, example, "fp32", compiled_dir)
                return _quantised(fp32, [[batch[name].cpu().numpy() for name in inputs] for batch in make()])

            graph = _kept(core, compiled_dir, _graph_key(backbone, output, inputs, precision), quantised, "quantising")
        else:
            graph = _cached_or_converted(core, backbone, output, inputs, example, precision, compiled_dir)
        # Throughput mode: one stream per group of cores, batches run side by side (``run_many``). On a
        # small CPU that beats one batch spread over every core, which waits at each layer for the slowest.
        hint = precision_hint(precision, int8_rest)
        self._compiled = core.compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                           "PERFORMANCE_HINT": "THROUGHPUT",
                                                           "CPU_RUNTIME_CACHE_CAPACITY": RUNTIME_CACHE_ENTRIES})
        if _KEEP_EVERY_GRAPH:
            keep_alive(self._compiled)
        self._requests = max(1, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        # what the CPU plugin really computes in: a bf16 hint on a CPU without bf16 units runs in fp32
        self.computes_in = computed_precision(self._compiled.get_property("INFERENCE_PRECISION_HINT"))

    def kernel_isas(self) -> dict[str, int]:
        """How many of the compiled graph's operations run on each instruction set's kernels (e.g. {"avx512": 60,
        "avx2": 13}), read from the CPU plugin's runtime graph: whether a ``ONEDNN_MAX_CPU_ISA`` cap took effect."""
        counts: dict[str, int] = {}
        for op in self._compiled.get_runtime_model().get_ops():
            info = op.get_rt_info()
            kind = str(info["primitiveType"].astype(str)) if "primitiveType" in info else ""
            isa = next((name for name in ISA_NAMES if name in kind.lower()), None)
            if isa is not None:
                counts[isa] = counts.get(isa, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    @property
    def streams(self) -> int:
        """How many batches it runs side by side (one per group of cores): fewer batches leave cores idle."""
        return self._requests

    @property
    def label(self) -> str:
        """The precision as it runs: "int8", or the precision the CPU computes in ("fp32" where bf16 was asked on a
        CPU without bf16 units, see ``note``)."""
        return "int8" if self.precision == "int8" else self.computes_in

    @property
    def note(self) -> str:
        """Where the precision asked for is not the one computed in, why."""
        if self.precision != "fp32" and self.computes_in != "bf16":
            return ("bf16 was asked for, but this CPU has no bf16 units, so OpenVINO computes in fp32"
                    + (" (the matrix products in int8)" if self.precision == "int8" else "") + ". ")
        return ""

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        return self.run_many([features])[0]

    def run_many(self, batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every batch through the graph, several at once; results in the order of ``batches``.

        One Python thread per stream takes the next batch, runs it on a request of its own and copies its output
        (the GIL is released while OpenVINO computes). No Python callback is handed to OpenVINO: a callback runs
        on OpenVINO's own threads, which must then take the GIL, and one of them waiting for it while the GIL's
        holder destroys a compiled model (which joins those threads) waits for ever. That hung a command in CI after
        its whole answer was printed; seen again here under load (1 run in 74), gdb showed the main thread in the
        garbage collector destroying a compiled model, joining a stream thread that waited for the GIL inside
        OpenVINO's Python binding. The speed is that of an ``AsyncInferQueue`` with a
        callback (paired in one process: 100 pairs through the int8 reranker 792 ms both ways; 510 documents
        through the bf16 bi-encoder 5455 against 5498 ms)."""
        import torch

        hidden: list[np.ndarray | None] = [None] * len(batches)
        arrays = [[features[name].cpu().numpy() for name in self.inputs] for features in batches]
        taken = itertools.count()
        failures: list[BaseException] = []

        def work() -> None:
            # Requests per thread: the compiled model is shared by every thread, a request is not.
            request = self._compiled.create_infer_request()
            while not failures and (position := next(taken)) < len(arrays):
                try:
                    request.start_async(arrays[position])
                    request.wait()
                    hidden[position] = np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)
                except BaseException as exc:  # handed to the caller below
                    failures.append(exc)

        workers = [threading.Thread(target=work, name=f"openvino-run-{i}", daemon=True)
                   for i in range(min(self._requests, len(batches)))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if failures:
            raise failures[0]
        results = []
        for features, output in zip(batches, hidden):
            if output is None:
                raise RuntimeError("OpenVINO finished a batch without an output; this is a bug.")
            out = dict(features)
            out[self.module_output] = torch.from_numpy(output)
            results.append(out)
        return results


# Compiled graphs no longer used, kept for the life of the process: destroying a compiled OpenVINO model joins its
# stream threads, and that join was seen to hang for good (every thread waiting on a futex) for a model that had run
# asynchronous requests in this process. One unused graph's memory is the cheaper price.
_KEPT_ALIVE: list[Any] = []


# Set in a process that ends without destroying what is left in memory (``python -m explorer``, ``serve`` too): there
# every compiled graph is kept from the start, so none is destroyed when a command's models go out of use either.
_KEEP_EVERY_GRAPH = False


def keep_every_graph() -> None:
    """From now on, every graph compiled in this process is kept until the process ends (see ``_KEEP_EVERY_GRAPH``):
    for processes that end by ``explorer.process_end.end_process``, never for the app, whose models come and go."""
    global _KEEP_EVERY_GRAPH
    _KEEP_EVERY_GRAPH = True


def keep_alive(thing: Any) -> None:
    """Keeps ``thing`` (an ``OpenVinoTransformer`` or stages holding one, no longer used) alive until the process
    ends, so its compiled model is never destroyed while the process runs (see ``_KEPT_ALIVE``)."""
    if not any(kept is thing for kept in _KEPT_ALIVE):
        _KEPT_ALIVE.append(thing)


def is_kept(transformer: Any, precision: str, compiled_dir: Path | None, example: dict[str, Any]) -> bool:
    """Whether a converted graph of ``transformer`` in ``precision`` is kept in ``compiled_dir`` (read back in
    about a second, where converting or quantising takes seconds to a minute)."""
    output = convertible_output(transformer)
    if compiled_dir is None or output is None:
        return False
    inputs = tuple(name for name in TEXT_INPUTS if name in example)
    xml = compiled_dir / f"{_graph_key(hf_model(transformer), output, inputs, precision)}.xml"
    return xml.is_file() and xml.with_suffix(".bin").is_file()


def int8_unavailable_reason() -> str | None:
    """Why the int8 path cannot be used here (it needs NNCF to quantise), or None when it can."""
    if importlib.util.find_spec("nncf") is None:
        return "NNCF is not installed (pip install -r requirements.txt installs it), so int8 is not available."
    return None


def _quantised(graph: Any, calibration: list[list[np.ndarray]]) -> Any:
    """The graph with its matrix products quantised to int8 (NNCF post-training quantisation).

    The scales come from ``calibration`` (typical inputs, see ``explorer.inference.calibration``); the graph is kept
    under a key naming the weights and the precision, not the calibration batches, which are fixed for a given
    project version."""
    import nncf

    logger.info("quantising to int8 on %d calibration batches", len(calibration))
    # MIXED: symmetric weights, asymmetric activations (the GELU outputs are not centred); TRANSFORMER
    # keeps the softmax and normalisation in bf16 and smooths activation outliers before quantising.
    return nncf.quantize(graph, nncf.Dataset(calibration), preset=nncf.QuantizationPreset.MIXED,
                         model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration))


def hf_model(transformer: Any) -> Any:
    """The Hugging Face model inside a sentence-transformers Transformer module (None when it has none)."""
    model = getattr(transformer, "model", None) or getattr(transformer, "auto_model", None)
    return model if model is not None and hasattr(model, "config") else None


def _graph_key(backbone: Any, output: str, inputs: tuple[str, ...], precision: str) -> str:
    """Changes whenever the weights, the architecture, the graph's inputs or outputs, or the versions change."""
    import openvino
    import torch
    import transformers

    digest = hashlib.sha256()
    header = {"class": type(backbone).__name__, "config": backbone.config.to_json_string(), "output": output,
              "inputs": inputs, "precision": precision, "openvino": openvino.__version__,
              "torch": torch.__version__, "transformers": transformers.__version__, "layout": 1}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for name, tensor in backbone.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:24]


def _cached_or_converted(core: Any, backbone: Any, output: str, inputs: tuple[str, ...], example: dict[str, Any],
                         precision: str, compiled_dir: Path | None) -> Any:
    return _kept(core, compiled_dir, _graph_key(backbone, output, inputs, precision),
                 lambda: _convert(backbone, output, inputs, example), "converting")


def _kept(core: Any, compiled_dir: Path | None, key: str, make: Callable[[], Any], doing: str) -> Any:
    """The graph kept under ``key`` in ``compiled_dir``, else ``make()``'s, kept there for the next process. Two
    processes that need the same graph at once (two app servers, or test workers) take turns: the second waits for
    the first's graph and reads it, instead of converting or quantising it a second time."""
    xml = compiled_dir / f"{key}.xml" if compiled_dir is not None else None
    if xml is None:
        return make()
    found = _read_kept(core, xml, doing)
    if found is not None:
        return found
    with _making(xml):
        found = _read_kept(core, xml, doing)  # made by another process while this one waited
        if found is not None:
            return found
        graph = make()
        _save(graph, xml)
    return graph


def _read_kept(core: Any, xml: Path, doing: str) -> Any | None:
    """The graph kept at ``xml``, or None when there is none (or it cannot be read)."""
    if xml.is_file() and xml.with_suffix(".bin").is_file():
        try:
            return core.read_model(str(xml))
        except RuntimeError as exc:
            logger.warning("The kept graph %s could not be read (%s); %s again.", xml, exc, doing)
    return None


@contextlib.contextmanager
def _making(xml: Path) -> Iterator[None]:
    """Holds a lock on ``xml``'s lock file (released by the system if the process dies) while its graph is made;
    where files cannot be locked (Windows, a read-only folder) nothing is held."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        xml.parent.mkdir(parents=True, exist_ok=True)
        handle = open(xml.with_suffix(".lock"), "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _convert(backbone: Any, output: str, inputs: tuple[str, ...], example: dict[str, Any]) -> Any:
    import openvino as ov
    import torch

    # Traced on a private copy in eval mode: the shared model is never switched or touched.
    private = copy.deepcopy(backbone).float().eval()

    class Exported(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = private

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            result = self.backbone(**dict(zip(inputs, tensors)), return_dict=True)
            return result[output]

    logger.info("converting %s for OpenVINO", type(backbone).__name__)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # Tracing warns about every shape-dependent branch; the graph is checked against PyTorch in the tests
        # and by the benchmark (agreement with fp32), which is where a wrong trace would show.
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        graph = ov.convert_model(Exported().eval(), example_input=tuple(example[name] for name in inputs))
    graph.reshape({port.get_any_name(): ov.PartialShape([-1, -1]) for port in graph.inputs})
    return graph


def _save(graph: Any, xml: Path) -> None:
    """Weights first, then the XML under its final name: a reader never finds an XML without its weights.

    Weights are kept in fp32 (about 90 MB for a MiniLM): fp16-compressed weights would round twice on the way
    to bf16, and a graph read back must score exactly as the one converted in this process."""
    import openvino as ov

    xml.parent.mkdir(parents=True, exist_ok=True)
    partial = xml.with_name(f"{xml.stem}.{os.getpid()}.partial.xml")
    try:
        ov.save_model(graph, str(partial), compress_to_fp16=False)
        os.replace(partial.with_suffix(".bin"), xml.with_suffix(".bin"))
        os.replace(partial, xml)
    except (OSError, RuntimeError) as exc:
        logger.warning("The converted model could not be kept in %s (%s); it will be converted again next time.",
                       xml.parent, exc)
        for leftover in (partial, partial.with_suffix(".bin")):
            leftover.unlink(missing_ok=True)
