"""Fixtures for the ONNX Runtime GenAI server tests: one tiny real model per test session."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

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
