"""Build a tiny, real ONNX Runtime GenAI model so server tests exercise real generation in seconds.

The recipe: a Llama architecture with random weights (hidden size 64, 2 layers, 4 heads), a
byte-level BPE tokenizer trained on a few sentences, both saved with ``save_pretrained`` and then
converted by ``onnxruntime_genai.models.builder`` for fp32 on CPU. The result is cached under
``<cache_root>/tiny-model/<recipe hash>`` so a second test run reuses it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SEED = 1234
HIDDEN_SIZE = 64
INTERMEDIATE_SIZE = 128
NUM_LAYERS = 2
NUM_HEADS = 4
MAX_POSITIONS = 512
TOKENIZER_VOCAB_SIZE = 400
SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)
TRAINING_SENTENCES = (
    "Small language models answer questions on a single machine.",
    "The quick brown fox jumps over the lazy dog.",
    "Hello, how are you today? I am fine, thank you.",
    "ONNX Runtime GenAI generates tokens one at a time.",
    "Containers run as a non-root user with a read-only root filesystem.",
    "Prometheus scrapes metrics from the health and metrics endpoints.",
    "Write a haiku about the sea and the sky and the mountains.",
)
BUILDER_VERSION_PACKAGES = ("onnxruntime-genai", "transformers", "tokenizers", "torch")


def recipe_fingerprint() -> str:
    """Hash everything that shapes the built files, so a changed recipe never reuses a stale model."""
    recipe = {
        "seed": SEED,
        "hidden_size": HIDDEN_SIZE,
        "intermediate_size": INTERMEDIATE_SIZE,
        "num_layers": NUM_LAYERS,
        "num_heads": NUM_HEADS,
        "max_positions": MAX_POSITIONS,
        "vocab_size": TOKENIZER_VOCAB_SIZE,
        "special_tokens": SPECIAL_TOKENS,
        "chat_template": CHAT_TEMPLATE,
        "sentences": TRAINING_SENTENCES,
        "versions": {name: importlib.metadata.version(name) for name in BUILDER_VERSION_PACKAGES},
    }
    canonical = json.dumps(recipe, sort_keys=True).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def build_tiny_model(cache_root: Path) -> Path:
    """Return the directory of a tiny ONNX Runtime GenAI model, building it once per recipe."""
    target = Path(cache_root) / "tiny-model" / recipe_fingerprint()
    if (target / "genai_config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiny-model-", dir=target.parent) as scratch:
        scratch_dir = Path(scratch)
        hf_dir = scratch_dir / "hf"
        onnx_dir = scratch_dir / "onnx"
        write_hf_model(hf_dir)
        _convert_to_onnx(hf_dir, onnx_dir, scratch_dir / "builder-cache")
        try:
            onnx_dir.rename(target)
        except OSError:
            # Another process finished the same recipe first; its copy is identical in kind.
            if not (target / "genai_config.json").is_file():
                raise
    return target


def _train_tokenizer():
    """Train a byte-level BPE tokenizer, so any UTF-8 text round-trips through it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_SENTENCES, trainer=trainer)
    return tokenizer


def write_hf_model(hf_dir: Path) -> None:
    """Save a randomly initialised Llama and its tokenizer in Hugging Face layout."""
    from transformers import PreTrainedTokenizerFast

    raw_tokenizer = _train_tokenizer()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw_tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="</s>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    save_random_llama(hf_dir, raw_tokenizer.get_vocab_size(), bos_id=raw_tokenizer.token_to_id("<s>"),
                      eos_id=raw_tokenizer.token_to_id("</s>"))
    tokenizer.save_pretrained(hf_dir)


def save_random_llama(hf_dir: Path, vocab_size: int, *, bos_id: int, eos_id: int,
                      max_positions: int = MAX_POSITIONS) -> None:
    """The recipe's Llama (sizes and seed above) with random weights, saved with `save_pretrained`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_HEADS,
        max_position_embeddings=max_positions,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(config)
    model.eval()
    model.save_pretrained(hf_dir)


def _convert_to_onnx(hf_dir: Path, onnx_dir: Path, builder_cache: Path) -> None:
    """Run the ONNX Runtime GenAI model builder; its output is what the server loads in production."""
    command = [
        sys.executable,
        "-m",
        "onnxruntime_genai.models.builder",
        "-i",
        str(hf_dir),
        "-o",
        str(onnx_dir),
        "-p",
        "fp32",
        "-e",
        "cpu",
        "-c",
        str(builder_cache),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ORT_DISABLE_TELEMETRY": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0 or not (onnx_dir / "genai_config.json").is_file():
        raise RuntimeError(
            f"onnxruntime_genai model builder failed with exit code {result.returncode}:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    shutil.rmtree(builder_cache, ignore_errors=True)


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.home() / ".cache" / "slm-deploy"
    print(build_tiny_model(root))
