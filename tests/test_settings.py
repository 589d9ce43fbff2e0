"""Numbers read from the environment: a usable value is taken, anything else leaves the default."""

from __future__ import annotations

from explorer.settings import Settings


def test_number_settings_take_usable_values_and_keep_the_default_otherwise():
    read = Settings.from_env({"EXPLORER_MAX_UPLOAD_MB": "50", "EXPLORER_REMOTE_TIMEOUT": "2.5",
                              "EXPLORER_REMOTE_RETRIES": "0", "EXPLORER_MAX_DOCUMENT_MB": "7"})
    assert (read.max_upload_mb, read.remote_timeout_s, read.remote_retries, read.max_document_mb) == (50, 2.5, 0, 7)
    defaults = Settings.from_env({})
    for unusable in ("", "many", "-3", "0", "1.5e"):
        read = Settings.from_env({"EXPLORER_MAX_UPLOAD_MB": unusable, "EXPLORER_REMOTE_TIMEOUT": unusable,
                                  "EXPLORER_MAX_DOCUMENT_MB": unusable})
        assert (read.max_upload_mb, read.remote_timeout_s, read.max_document_mb) == (
            defaults.max_upload_mb, defaults.remote_timeout_s, defaults.max_document_mb), unusable
    assert Settings.from_env({"EXPLORER_REMOTE_RETRIES": "-1"}).remote_retries == defaults.remote_retries
    assert isinstance(Settings.from_env({"EXPLORER_REMOTE_TIMEOUT": "4"}).remote_timeout_s, float)
