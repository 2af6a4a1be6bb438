"""Serving: Hugging Face models are pinned to a commit."""

from __future__ import annotations

import re

from slm_deploy.policies.access import flag_present, flag_value
from slm_deploy.policies.model import Option, Rule, Severity
from slm_deploy.policies.rules._serving import SERVING_KINDS, launches
from slm_deploy.policies.rules.serving_001_trust_remote_code import model_of

COMMIT = re.compile(r"^[0-9a-f]{40}$")


def is_hub_id(model: str | None) -> bool:
    """Whether a model argument names a Hugging Face repository rather than a local path."""
    return model is not None and "/" in model and not model.startswith(("/", ".", "~")) and "://" not in model


def _pinned(revision: str | None, strict: bool) -> bool:
    """Whether a revision is a commit (or, when not strict, at least not a moving branch)."""
    if not revision:
        return False
    return bool(COMMIT.match(revision)) if strict else revision not in ("main", "master")


def check(manifest, ctx):
    """Yield violations for hub models or tokenizers without a pinned revision."""
    strict = bool(ctx.get("requireCommitSha"))
    for launch in launches(manifest, ctx.kind):
        words = launch.words
        if launch.runtime == "vllm":
            if is_hub_id(model_of(words)) and not _pinned(flag_value(words, "--revision"), strict):
                yield f"{launch.path} serves a Hugging Face model without --revision pinned to a commit"
            tokenizer = flag_value(words, "--tokenizer")
            if is_hub_id(tokenizer) and not _pinned(flag_value(words, "--tokenizer-revision"), strict):
                yield f"{launch.path} loads a Hugging Face tokenizer without --tokenizer-revision"
        if flag_present(words, "-hf", "--hf-repo", "-hfr") or launch.env.get("LLAMA_ARG_HF_REPO"):
            yield f"{launch.path} downloads from the hub with -hf, which cannot pin a revision; fetch the " \
                  "GGUF by commit into a volume"


RULE = Rule(
    id="slm-serving-003",
    name="Hugging Face models and tokenizers are pinned to a commit revision.",
    severity=Severity.HIGH,
    controls=("S-model-revision",),
    kinds=SERVING_KINDS,
    rationale="A repository's main branch can change under a running deployment: new weights, a new chat "
              "template or new remote code arrive without review.",
    remediation="Pass --revision <40-hex commit> (and --tokenizer-revision), as the spec's model catalogue "
                "records; for llama.cpp download the GGUF at a commit instead of -hf.",
    benchmarks=(),
    check=check,
    tags=("serving", "supply-chain"),
    options=(Option("requireCommitSha", {"type": "boolean", "default": True},
                    "Require a 40-hex commit rather than any tag."),),
)
