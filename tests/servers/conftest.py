"""Fixtures for the server tests: one tiny real ONNX model per test session, a fake runtime per gateway test module."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.gateway_fixtures import FakeRuntime
from tests.support.cache import cache_root, exclusive
from tests.support.tiny_model import build_tiny_model

# ONNX Runtime reads its telemetry switch once, at first load: set it before any test imports it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

MODEL_BUILD_MODULES = ("onnxruntime_genai", "torch", "transformers", "tokenizers", "onnx", "onnx_ir")


@pytest.fixture(scope="session")
def tiny_onnx_model() -> Path:
    """A real ONNX Runtime GenAI model folder (Llama, 2 layers, random weights), built once and cached."""
    missing = [name for name in MODEL_BUILD_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the tiny ONNX model cannot be built without {', '.join(missing)} (pip install them)")
    with exclusive("tiny-onnx-model"):
        return build_tiny_model(cache_root())


@pytest.fixture(scope="module")
def runtime() -> Iterator[FakeRuntime]:
    """A fake OpenAI- and Ollama-style runtime for the gateway tests, one per test module."""
    fake = FakeRuntime()
    yield fake
    fake.close()
