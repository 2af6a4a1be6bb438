"""Specs that put every backend behind every consumer: Kubernetes Secrets (Grafana's and Alertmanager's in the
monitoring namespace), created and existing Key Vaults, and External Secrets with HashiCorp Vault, AWS Secrets
Manager and Google Secret Manager (namespace and cluster stores)."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from slm_deploy.spec.loader import Deployment, parse_deployment
from tests.test_pulumi_components import stack_spec

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
REGISTRY = {"registry": "registry.example.com", "repository": "slm"}


def _onnx(secrets: dict[str, Any], stores: dict[str, Any] | None = None,
          monitoring: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ONNX example on a cluster with a hub token: the gateway and model preparation both mount secrets
    (its webhook receiver stays behind unless `monitoring` brings one)."""
    spec = stack_spec("phi4-onnx-edge")
    spec["model"]["hub_token_secret"] = "hf-token"
    spec["targets"] = {"docker": dict(REGISTRY), "kubernetes": {"namespace": "phi4-onnx"}}
    spec["monitoring"] = monitoring or {}
    spec["secrets"] = secrets
    if stores:
        spec["secret_stores"] = stores
    return spec


def _ollama_webui(secrets: dict[str, Any]) -> dict[str, Any]:
    """The Ollama example on a cluster: Open WebUI mounts its session key and its gateway key."""
    spec = stack_spec("ollama-webui-compose")
    spec["targets"] = {"docker": dict(REGISTRY), "kubernetes": {}}
    spec["secrets"] = secrets
    return spec


def _aks(secrets: dict[str, Any], vault: dict[str, Any]) -> dict[str, Any]:
    """The AKS example with a hub token as well, both kept in one Key Vault."""
    spec = stack_spec("phi4-vllm-aks")
    spec["model"]["hub_token_secret"] = "hf-token"
    spec["secrets"] = secrets
    spec["secret_stores"] = {"azure_key_vaults": {"kv-slm-phi4": vault}}
    return spec


KV = {"backend": "azure-key-vault", "vault": "kv-slm-phi4"}
CASES: dict[str, dict[str, Any]] = {
    "kubernetes-secrets": _onnx({"api-keys": {}, "hf-token": {"backend": "kubernetes"}}),
    "kubernetes-monitoring": _onnx(
        {"api-keys": {}, "hf-token": {}, "oncall-token": {}, "grafana-admin-password": {}},
        monitoring={"mode": "bundled", "grafana": {"enabled": True},
                    "receiver": {"kind": "webhook", "url": "https://oncall.example.com/hooks/slm",
                                 "token_secret": "oncall-token"}}),
    "kubernetes-webui": _ollama_webui({"api-keys": {}, "webui-secret-key": {}, "webui-api-key": {}}),
    "key-vault-created": _aks({"api-keys": {**KV, "key": "phi4-api-keys"}, "hf-token": KV},
                              {"tenant_id": TENANT, "secrets_expire_on": "2027-06-30",
                               "allowed_ip_ranges": ["203.0.113.0/24"]}),
    "key-vault-existing": _aks({"api-keys": KV, "hf-token": {**KV, "key": "hub-token"}},
                               {"create": False, "tenant_id": TENANT, "resource_group": "rg-platform-secrets"}),
    "external-hashicorp-vault": _onnx(
        {"api-keys": {"backend": "external-secrets", "store": "vault", "key": "llm/phi4/api-keys"},
         "hf-token": {"backend": "external-secrets", "store": "vault", "key": "llm/phi4/hf-token",
                      "property": "token"}},
        {"external_secrets": {"vault": {"provider": {
            "kind": "hashicorp-vault", "server": "https://vault.example.com:8200", "role": "phi4-onnx",
            "namespace": "team-llm"}}}}),
    "external-aws-cluster-store": _onnx(
        {"api-keys": {"backend": "external-secrets", "store": "aws", "key": "llm/phi4/api-keys"},
         "hf-token": {"backend": "external-secrets", "store": "aws", "key": "llm/phi4/hf-token"}},
        {"external_secrets": {"aws": {"scope": "cluster", "refresh_interval_seconds": 600, "provider": {
            "kind": "aws-secrets-manager", "region": "eu-west-1",
            "role_arn": "arn:aws:iam::123456789012:role/phi4-onnx-secrets"}}}}),
    "external-google-and-platform-store": _onnx(
        {"api-keys": {"backend": "external-secrets", "store": "gcp", "key": "phi4-api-keys"},
         "hf-token": {"backend": "external-secrets", "store": "platform", "key": "shared/hf-token"}},
        {"external_secrets": {
            "gcp": {"provider": {"kind": "google-secret-manager", "project_id": "llm-platform-1",
                                 "service_account": "phi4-onnx@llm-platform-1.iam.gserviceaccount.com"}},
            "platform": {"scope": "cluster", "create": False}}}),
}
"""Case name -> spec mapping."""


@lru_cache(maxsize=None)
def case(name: str) -> Deployment:
    """One case, validated once per test process."""
    return parse_deployment(copy.deepcopy(CASES[name]))


def spec_of(name: str) -> dict[str, Any]:
    """A copy of a case's spec mapping that a test may change."""
    return copy.deepcopy(CASES[name])
