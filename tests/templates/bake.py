"""Bake the project template in-process, as `slm-deploy new` does, for the template tests."""

from __future__ import annotations

from pathlib import Path

from cookiecutter.main import cookiecutter

from slm_deploy.cli.new import _template_dir

TENANT = "4f1c2a9e-7b3d-4e6a-9c58-2d0b7e1f3a64"
"""An Entra ID tenant id in the form Azure issues (random, not anyone's)."""
REGISTRY = "crassistants.azurecr.io"
"""A registry answer in the form a team's own takes (an Azure Container Registry login server); nothing is pushed."""
VAULT_SERVER = "https://vault.assistants-platform.dev:8200"
"""A vault_server answer: the https URL of a HashiCorp Vault a team would run."""
INGRESS_DOMAIN = "llm.assistants-platform.dev"
"""An ingress_host answer: a domain a team would own (each environment is served at <environment>.<domain>)."""
SOURCE = "git+https://github.com/assistants-platform/slm-deploy@0123456789abcdef0123456789abcdef01234567"
"""A slm_deploy_source answer: a Git commit a team's CI would install slm-deploy from; the template only writes it."""
SOURCE_ANSWER = f"slm_deploy_source={SOURCE}"

# Every runtime and every target at least once, each with the options that belong to it.
BAKES: dict[str, dict[str, str]] = {
    "ollama-compose": {"runtime": "ollama", "target": "compose", "environments": "dev"},
    "llamacpp-kubernetes": {"runtime": "llamacpp", "target": "kubernetes", "exposure": "internal",
                            "monitoring": "existing", "secret_store": "external-secrets", "registry": REGISTRY,
                            "vault_server": VAULT_SERVER},
    "vllm-aks": {"runtime": "vllm", "target": "aks", "gpu_type": "nvidia-a10", "exposure": "ingress",
                 "monitoring": "managed", "secret_store": "azure-key-vault", "model": "phi-4-mini-instruct",
                 "azure_tenant_id": TENANT, "registry": REGISTRY, "ingress_host": INGRESS_DOMAIN},
    "onnx-kubernetes": {"runtime": "onnxruntime", "target": "kubernetes", "monitoring": "bundled",
                        "secret_store": "kubernetes", "model": "phi-4-mini-instruct",
                        "environments": "staging", "registry": f"{REGISTRY}/onnx"},
    "foundry-local-host": {"runtime": "foundry-local", "target": "host", "model": "phi-4-mini-instruct",
                           "host_os": "linux", "monitoring": "off", "environments": "edge"},
    "vllm-compose": {"runtime": "vllm", "target": "compose", "gpu_type": "nvidia-a10", "monitoring": "off",
                     "secret_store": "file", "environments": "qa, prod", "registry": REGISTRY},
}


def bake(output_dir: Path, name: str, answers: dict[str, str]) -> Path:
    """The generated project's directory; raises cookiecutter's FailedHookException when a hook refuses."""
    return Path(cookiecutter(str(_template_dir()), no_input=True, output_dir=str(output_dir), default_config=True,
                             extra_context={"project_name": name, "slm_deploy_source": SOURCE,
                                            **answers}))
