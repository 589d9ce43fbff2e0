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


@pytest.mark.parametrize("path, precision, int8", [("auto", "fp32", True), ("fp32", "fp32", False),
                                                   ("bf16", "bf16", False), ("int8", "bf16", True)])
def test_a_forced_engine_path_sets_the_cpu_precision_and_int8(path, precision, int8):
    from explorer.inference.device import DeviceChoice, on_engine_path

    choice, takes_int8 = on_engine_path(DeviceChoice("cpu", "fp32", "no GPU found"), path, int8=True)
    assert (choice.precision, takes_int8) == (precision, int8)
    if path != "auto":
        assert "EXPLORER_ENGINE" in choice.reason


def test_a_forced_engine_path_leaves_cuda_as_it_is():
    from explorer.inference.device import DeviceChoice, on_engine_path

    cuda = DeviceChoice("cuda", "fp16", "a CUDA GPU is available")
    assert on_engine_path(cuda, "int8", int8=False) == (cuda, False)


def test_the_engine_path_is_read_from_the_environment_and_a_wrong_one_is_refused():
    from explorer.errors import ConfigError
    from explorer.settings import Settings, engine_path_from

    assert engine_path_from({}) == "auto"
    assert engine_path_from({"EXPLORER_ENGINE": " INT8 "}) == "int8"
    assert Settings.from_env({"EXPLORER_ENGINE": "bf16"}).engine_path == "bf16"
    with pytest.raises(ConfigError, match="choose one of: auto, fp32, bf16, int8"):
        engine_path_from({"EXPLORER_ENGINE": "fp8"})
