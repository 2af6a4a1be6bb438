"""The vLLM pre-download fetches what vLLM serves from (configs, tokenizer files, safetensors), not the whole
repository: no pickled .bin/.pt weights, and the repository's code only when trust_remote_code runs it."""

from __future__ import annotations

import yaml
from huggingface_hub.utils import filter_repo_objects

from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.loader import parse_deployment
from tests.conftest import ROOT

REPOSITORY = (
    "config.json", "generation_config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja",
    "pytorch_model.bin", "consolidated.pt", "training_args.bin", "modeling_phi3.py", "configuration_phi3.py",
    "README.md", ".gitattributes", "sample_finetune.py", "onnx/model.onnx",
)
SERVED = {"config.json", "generation_config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
          "model-00002-of-00002.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
          "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja"}


def _downloaded(trust_remote_code: bool) -> set[str]:
    """The files of REPOSITORY the rendered download step keeps, filtered the way snapshot_download filters them."""
    raw = yaml.safe_load((ROOT / "stacks/Pulumi.phi4-vllm-aks.yaml").read_text())["config"]["slm-deploy:deployment"]
    if trust_remote_code:
        raw["runtime"]["trust_remote_code"] = True
        raw.setdefault("security", {})["trust_remote_code_allowlist"] = ["microsoft/Phi-4-mini-instruct"]
    prep = next(s for s in plan_deployment(parse_deployment(raw)).services if s.role == "model-prep")
    assert "allow_patterns=sys.argv[3:]" in prep.command[-1]
    return set(filter_repo_objects(REPOSITORY, allow_patterns=list(prep.args[2:])))


def test_the_download_keeps_configs_tokenizers_and_safetensors_only() -> None:
    assert _downloaded(trust_remote_code=False) == SERVED


def test_remote_code_is_fetched_only_when_vllm_runs_it() -> None:
    assert _downloaded(trust_remote_code=True) == SERVED | {"modeling_phi3.py", "configuration_phi3.py",
                                                           "sample_finetune.py"}
