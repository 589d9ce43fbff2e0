"""Device and precision selection, simulated (no GPU is lent to this project)."""

import pytest

from explorer.errors import ConfigError
from explorer.inference.device import Accelerators, choose_device, detect_accelerators

GPU = Accelerators(cuda=True, mps=False, cpu_bf16=True, cuda_name="Simulated A100")
MAC = Accelerators(cuda=False, mps=True, cpu_bf16=False)
AMX_CPU = Accelerators(cuda=False, mps=False, cpu_bf16=True)
OLD_CPU = Accelerators(cuda=False, mps=False, cpu_bf16=False)


@pytest.mark.parametrize(
    ("found", "preference", "device", "precision"),
    [
        (GPU, "auto", "cuda", "fp16"),
        (GPU, "cuda", "cuda", "fp16"),
        (GPU, "cpu", "cpu", "bf16"),
        (MAC, "auto", "mps", "fp32"),
        (MAC, "cpu", "cpu", "fp32"),
        (AMX_CPU, "auto", "cpu", "bf16"),
        (OLD_CPU, "auto", "cpu", "fp32"),
    ],
)
def test_choice(found, preference, device, precision):
    choice = choose_device(preference, found)
    assert (choice.device, choice.precision) == (device, precision)
    assert choice.reason


def test_gpu_name_is_reported():
    assert "Simulated A100" in choose_device("auto", GPU).reason


@pytest.mark.parametrize(("found", "preference", "message"),
                         [(OLD_CPU, "cuda", "no CUDA GPU"), (OLD_CPU, "mps", "MPS"), (GPU, "tpu", "Unknown device")])
def test_impossible_choices_say_what_to_do(found, preference, message):
    with pytest.raises(ConfigError, match=message):
        choose_device(preference, found)


def test_detection_on_this_machine_runs():
    found = detect_accelerators()
    assert isinstance(found.cuda, bool) and isinstance(found.cpu_bf16, bool)
    assert choose_device("auto", found).device in {"cuda", "mps", "cpu"}
