"""Settings: flags win over SLM_* variables, defaults are documented ones, bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_deploy.servers.ortgenai.config import DEFAULT_PORT, SettingsError, load_settings


def test_defaults_apply_when_only_the_model_folder_is_given():
    settings = load_settings([], {"SLM_MODEL_DIR": "/models/phi-4-mini"})
    assert settings.model_dir == Path("/models/phi-4-mini")
    assert (settings.host, settings.port) == ("127.0.0.1", DEFAULT_PORT) == ("127.0.0.1", 8001)
    assert settings.model_name == "phi-4-mini"
    assert (settings.max_concurrency, settings.max_queue, settings.default_max_tokens) == (2, 32, 256)
    assert (settings.execution_provider, settings.log_level) == ("cpu", "info")
    assert (settings.max_body_bytes, settings.body_timeout_seconds) == (2 * 1024 * 1024, 30)


def test_environment_sets_every_option():
    settings = load_settings([], {
        "SLM_MODEL_DIR": "/m", "SLM_HOST": "0.0.0.0", "SLM_PORT": "9000", "SLM_SERVED_MODEL_NAME": "phi",
        "SLM_MAX_CONCURRENCY": "4", "SLM_MAX_QUEUE": "0", "SLM_MAX_TOKENS": "64",
        "SLM_EXECUTION_PROVIDER": "CUDA", "SLM_LOG_LEVEL": "debug", "SLM_CHAT_TEMPLATE_FILE": "/t.jinja",
        "SLM_MAX_BODY_BYTES": "65536", "SLM_BODY_TIMEOUT": "5",
    })
    assert (settings.max_body_bytes, settings.body_timeout_seconds) == (65536, 5)
    assert (settings.host, settings.port, settings.model_name) == ("0.0.0.0", 9000, "phi")
    assert (settings.max_concurrency, settings.max_queue, settings.default_max_tokens) == (4, 0, 64)
    assert (settings.execution_provider, settings.log_level) == ("cuda", "debug")
    assert settings.chat_template_file == Path("/t.jinja")


def test_flags_override_environment():
    settings = load_settings(["--port", "8123", "--served-model-name", "flagged"],
                             {"SLM_MODEL_DIR": "/m", "SLM_PORT": "9000", "SLM_SERVED_MODEL_NAME": "env"})
    assert (settings.port, settings.model_name) == (8123, "flagged")


@pytest.mark.parametrize(
    ("argv", "environ", "named"),
    [
        ([], {}, "SLM_MODEL_DIR"),
        ([], {"SLM_MODEL_DIR": "/m", "SLM_PORT": "eighty"}, "SLM_PORT"),
        (["--port", "70000"], {"SLM_MODEL_DIR": "/m"}, "--port"),
        ([], {"SLM_MODEL_DIR": "/m", "SLM_EXECUTION_PROVIDER": "rocm"}, "SLM_EXECUTION_PROVIDER"),
        (["--max-concurrency", "0"], {"SLM_MODEL_DIR": "/m"}, "--max-concurrency"),
        ([], {"SLM_MODEL_DIR": "/m", "SLM_MAX_TOKENS": "0"}, "SLM_MAX_TOKENS"),
        (["--max-body-bytes", "100"], {"SLM_MODEL_DIR": "/m"}, "--max-body-bytes"),
        ([], {"SLM_MODEL_DIR": "/m", "SLM_BODY_TIMEOUT": "0"}, "SLM_BODY_TIMEOUT"),
    ],
)
def test_bad_values_are_rejected_naming_their_source(argv, environ, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(argv, environ)
