"""Choosing where models run: CUDA, then Apple MPS, then CPU, with the precision each supports."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable, Literal, Mapping

from explorer.errors import ConfigError

logger = logging.getLogger(__name__)

DevicePreference = Literal["auto", "cuda", "mps", "cpu"]
DEVICE_CHOICES: tuple[DevicePreference, ...] = ("auto", "cuda", "mps", "cpu")


@dataclass(frozen=True)
class DeviceChoice:
    """Where models run and at what precision, with the reason for the choice in words."""

    device: str  # "cuda", "mps" or "cpu"
    precision: str  # "fp16", "bf16" or "fp32"
    reason: str

    @property
    def label(self) -> str:
        """Device and precision for display, e.g. "CPU · bf16"."""
        return f"{self.device.upper()} · {self.precision}"


@dataclass(frozen=True)
class Accelerators:
    """What the machine offers. Filled from torch by ``detect_accelerators``; tests build it by hand."""

    cuda: bool
    mps: bool
    cpu_bf16: bool
    cuda_name: str = ""


def detect_accelerators(environ: Mapping[str, str] | None = None) -> Accelerators:
    """What this machine offers: CUDA and MPS as torch sees them, and bf16 units from /proc/cpuinfo, unless
    ``ONEDNN_MAX_CPU_ISA`` (in ``environ``, by default the process's) caps oneDNN below them."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    cap = (os.environ if environ is None else environ).get("ONEDNN_MAX_CPU_ISA", "")
    return Accelerators(
        cuda=cuda,
        mps=mps,
        cpu_bf16=_cpu_has_fast_bf16(_cpu_flags()) and isa_cap_allows_bf16(cap),
        cuda_name=torch.cuda.get_device_name(0) if cuda else "",
    )


# oneDNN's ISA names (ONEDNN_MAX_CPU_ISA) at or above the first with bf16 dot products; "" / ALL / DEFAULT: no cap
_BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_AMX", "AVX512_CORE_FP16", "AVX512_CORE_AMX_FP16", "AVX10_1_512",
              "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2", "ALL", "DEFAULT", "")


def isa_cap_allows_bf16(cap: str) -> bool:
    """Whether a ``ONEDNN_MAX_CPU_ISA`` value leaves the bf16 units in use. A cap below them (AVX2, AVX512_CORE,
    ...) is how a user imitates an older CPU: PyTorch's and OpenVINO's oneDNN kernels then stop at that ISA, so
    the engine must not choose bf16 either (it would be emulated, or refused)."""
    return cap.strip().upper() in _BF16_ISAS


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def _cpu_has_fast_bf16(flags: str) -> bool:
    """True on CPUs with native bf16 matrix units (AMX or AVX-512 BF16), where bf16 inference pays off."""
    return "amx_bf16" in flags or "avx512_bf16" in flags


def choose_device(
    preference: DevicePreference = "auto",
    accelerators: Accelerators | Callable[[], Accelerators] = detect_accelerators,
) -> DeviceChoice:
    """Pick a device and precision. ``preference`` forces one; asking for a missing one is an error."""
    if preference not in DEVICE_CHOICES:
        raise ConfigError(f"Unknown device {preference!r}. Choose one of: {', '.join(DEVICE_CHOICES)}.")
    found = accelerators() if callable(accelerators) else accelerators
    if preference == "cuda" and not found.cuda:
        raise ConfigError("CUDA was asked for but no CUDA GPU is visible to torch. Choose 'auto' or 'cpu'.")
    if preference == "mps" and not found.mps:
        raise ConfigError("Apple MPS was asked for but is not available here. Choose 'auto' or 'cpu'.")
    if preference in ("auto", "cuda") and found.cuda:
        why = "forced" if preference == "cuda" else "a CUDA GPU is available"
        return DeviceChoice("cuda", "fp16", f"{why} ({found.cuda_name or 'GPU'}); half precision")
    if preference in ("auto", "mps") and found.mps:
        why = "forced" if preference == "mps" else "Apple MPS is available"
        return DeviceChoice("mps", "fp32", f"{why}; full precision")
    why = "forced" if preference == "cpu" else "no GPU found"
    if found.cpu_bf16:
        return DeviceChoice("cpu", "bf16", f"{why}; CPU has bf16 units (AMX/AVX-512), bf16 inference")
    return DeviceChoice("cpu", "fp32", f"{why}; full precision")


def on_engine_path(choice: DeviceChoice, path: str, int8: bool) -> tuple[DeviceChoice, bool]:
    """The device and whether rerankers may take int8, once a forced engine path (``Settings.engine_path``) is
    applied to the CPU's choice: "fp32" runs PyTorch exactly, "bf16" the bf16 path, "int8" the int8 path, whatever
    the CPU (where it has no bf16 units, OpenVINO computes in fp32 what it would compute in bf16, and PyTorch's bf16
    is emulated: slower, but the same code runs). CUDA and MPS keep their own paths; "auto" changes nothing."""
    if choice.device != "cpu" or path == "auto":
        return choice, int8
    precision = "fp32" if path == "fp32" else "bf16"
    reason = f"{choice.reason}; engine path forced to {path} (EXPLORER_ENGINE)"
    return DeviceChoice("cpu", precision, reason), path == "int8"


def inference_context(choice: DeviceChoice):
    """Autocast for inference at the chosen precision (bf16 on capable CPUs); a no-op for fp32 and fp16.

    fp16 on CUDA is applied to the weights when the model loads, so no autocast is needed there.
    """
    import contextlib

    import torch

    if choice.precision == "bf16":
        return torch.autocast(device_type=choice.device, dtype=torch.bfloat16)
    return contextlib.nullcontext()
