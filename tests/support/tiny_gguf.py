"""A tiny real GGUF for llama-server, converted with the conversion script of the llama.cpp build under test.

It is the ONNX tests' tiny Llama (same sizes, same seed, random weights) with a SentencePiece BPE
tokenizer, the Llama-2 layout whose ``tokenizer.model`` llama.cpp's converter reads directly. It has no byte
fallback: random weights would string byte tokens into invalid UTF-8, which llama-server's chat-output parser
rightly refuses; without them every reply is made of whole pieces of the (ASCII) training text. (The ONNX model's byte-level BPE tokenizer is refused by the converter, which only accepts
byte-level tokenizers whose fingerprint it knows.) ``convert_hf_to_gguf.py`` from the same source writes
F16, then the ``llama-quantize`` built with the server quantises it to Q4_K_M, falling back to a
compatible type for tensors narrower than a k-quant block, as it does for any such model. Cached under
``<cache_root>/tiny-gguf/<recipe hash>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .llamacpp_build import LlamaCppBuild
from .tiny_model import CHAT_TEMPLATE, SEED, SPECIAL_TOKENS, TRAINING_SENTENCES, save_random_llama
from .tools import run, tail

VOCAB_SIZE = 400
MAX_POSITIONS = 8192
"""Longer than the ONNX model's, so one request can generate long enough to be caught in flight."""
CHAT_TOKENS = tuple(token for token in SPECIAL_TOKENS if token.startswith("<|"))
QUANTISATION = "Q4_K_M"
FILE_NAME = "tiny-llama-q4_k_m.gguf"
RECIPE_VERSION = 3


def recipe_hash(build: LlamaCppBuild) -> str:
    recipe = {"vocab": VOCAB_SIZE, "chat_tokens": CHAT_TOKENS, "template": CHAT_TEMPLATE, "seed": SEED,
              "sentences": TRAINING_SENTENCES, "quantisation": QUANTISATION, "positions": MAX_POSITIONS, "build": build.build_number,
              "version": RECIPE_VERSION}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def build_tiny_gguf(cache_root: Path, build: LlamaCppBuild) -> Path:
    """Return the path of the tiny Q4_K_M GGUF, converting it once per recipe."""
    target = cache_root / "tiny-gguf" / recipe_hash(build) / FILE_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiny-gguf-", dir=target.parent.parent) as scratch:
        hf_dir, work = Path(scratch) / "hf", Path(scratch)
        hf_dir.mkdir()
        write_sentencepiece_llama(hf_dir)
        f16 = work / "tiny-f16.gguf"
        _convert(build, hf_dir, f16)
        quantised = work / FILE_NAME
        result = run([str(build.quantize), str(f16), str(quantised), QUANTISATION], timeout=600)
        if result.returncode != 0 or not quantised.is_file():
            raise RuntimeError(f"llama-quantize failed ({result.returncode}):\n{tail(result.stdout + result.stderr)}")
        shutil.move(quantised, target)
    return target


def write_sentencepiece_llama(hf_dir: Path) -> None:
    """tokenizer.model (SentencePiece BPE, chat markers as single pieces), config and weights."""
    import sentencepiece

    corpus = hf_dir.parent / "corpus.txt"
    corpus.write_text("\n".join(TRAINING_SENTENCES) + "\n")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(hf_dir / "tokenizer"), model_type="bpe", vocab_size=VOCAB_SIZE,
        byte_fallback=False, user_defined_symbols=list(CHAT_TOKENS), character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
        minloglevel=2, hard_vocab_limit=True,
    )
    (hf_dir / "tokenizer.vocab").unlink()
    processor = sentencepiece.SentencePieceProcessor(model_file=str(hf_dir / "tokenizer.model"))
    # The chat markers are special tokens, as in real chat models: llama.cpp then treats them as control tokens,
    # never printed in a reply (a printed role marker would read as a new turn to its chat-output parser).
    special = {str(processor.piece_to_id(token)): {"content": token, "special": True, "normalized": False}
               for token in CHAT_TOKENS}
    (hf_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": True, "add_eos_token": False, "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": special,
    }, indent=2))
    save_random_llama(hf_dir, processor.vocab_size(), bos_id=processor.bos_id(), eos_id=processor.eos_id(),
                      max_positions=MAX_POSITIONS)


def _convert(build: LlamaCppBuild, hf_dir: Path, out: Path) -> None:
    """Run the source's own converter (it imports the gguf-py package next to it)."""
    script = build.source / "convert_hf_to_gguf.py"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("NO_LOCAL_GGUF", None)
    result = run([sys.executable, str(script), str(hf_dir), "--outfile", str(out), "--outtype", "f16"],
                 env=env, timeout=600)
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"convert_hf_to_gguf.py failed ({result.returncode}):\n{tail(result.stdout + result.stderr)}")
