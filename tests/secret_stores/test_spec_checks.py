"""The secrets section's rules: references name their consumer and secret, purposes match, backends fit the
targets, stores are declared and used, and remote keys take `/` exactly where the backend allows it."""

from __future__ import annotations

import re

from typing import Any

import pytest

from slm_deploy.errors import SpecError
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.spec.secret_uses import backend_of
from tests.conftest import run_cli
from tests.secret_stores.cases import spec_of
from tests.test_pulumi_components import stack_spec


def problems(spec: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as raised:
        parse_deployment(spec)
    return [p.render() for p in raised.value.problems]


def test_a_missing_reference_names_the_consumer_the_field_and_the_purpose_but_not_the_name() -> None:
    spec = spec_of("kubernetes-secrets")
    del spec["secrets"]["hf-token"]
    (message,) = problems(spec)
    assert message.startswith("model.hub_token_secret: model preparation needs the model-hub-token secret this "
                              "field names, which `secrets` does not declare")
    assert "allowed: a name declared under `secrets`" in message
    assert "hf-token" not in message and "api-keys" not in message  # the name is a value of the spec: a pasted token must not be printed back


def test_every_consumer_is_named_when_its_secret_is_missing() -> None:
    spec = spec_of("kubernetes-webui")
    spec["secrets"] = {}
    spec.setdefault("serving", {}).setdefault("auth", {})["api_keys_secret"] = "gateway-keys"
    spec["runtime"]["open_webui"].update(secret_key_secret="ui-session", api_key_secret="ui-client-key")
    found = problems(spec)
    for path, consumer, purpose in (("serving.auth.api_keys_secret", "the gateway", "gateway-api-keys"),
                                    ("runtime.open_webui.secret_key_secret", "Open WebUI", "open-webui-secret-key"),
                                    ("runtime.open_webui.api_key_secret", "Open WebUI", "gateway-client-key")):
        assert any(p.startswith(f"{path}: {consumer} needs the {purpose} secret") for p in found), found
    assert not any(name in "\n".join(found) for name in ("gateway-keys", "ui-session", "ui-client-key"))


@pytest.mark.parametrize(("store", "key"), [
    ("external-hashicorp-vault", "llm/phi4/api-keys"),
    ("external-aws-cluster-store", "llm/phi4/api+keys@v2"),
])
def test_remote_keys_with_slashes_are_accepted_where_the_backend_has_paths(store: str, key: str) -> None:
    spec = spec_of(store)
    spec["secrets"]["api-keys"]["key"] = key
    assert parse_deployment(spec).spec.secrets["api-keys"].key == key


@pytest.mark.parametrize(("name", "key", "allowed"), [
    ("external-google-and-platform-store", "llm/phi4/api-keys", "Secret Manager ids have no /"),
    ("key-vault-created", "llm/phi4-api-keys", "Key Vault names have no /"),
    ("key-vault-created", "phi4_api_keys", "Key Vault names have no /"),
    ("external-hashicorp-vault", "llm//api-keys", "separated by single /"),
])
def test_remote_keys_the_backend_cannot_hold_are_refused(name: str, key: str, allowed: str) -> None:
    spec = spec_of(name)
    spec["secrets"]["api-keys"]["key"] = key
    (message,) = problems(spec)
    assert message.startswith("secrets.api-keys.key:") and allowed in message


def test_a_declared_purpose_must_match_the_field_that_names_the_secret() -> None:
    spec = spec_of("kubernetes-secrets")
    spec["secrets"]["hf-token"]["purpose"] = "gateway-api-keys"
    (message,) = problems(spec)
    assert re.match(r"secrets\.<key \d>\.purpose: is gateway-api-keys, but model preparation reads it", message)


def test_one_secret_cannot_serve_two_purposes() -> None:
    spec = spec_of("kubernetes-webui")
    spec["runtime"]["open_webui"]["api_key_secret"] = "api-keys"
    del spec["secrets"]["webui-api-key"]
    (message,) = problems(spec)
    assert "secrets.api-keys: is used for several purposes" in message
    assert "gateway-api-keys, gateway-client-key" in message


def test_a_secret_nothing_reads_is_refused_not_ignored() -> None:
    spec = spec_of("kubernetes-secrets")
    spec["secrets"]["grafana-admin"] = {"purpose": "grafana-admin"}
    (message,) = problems(spec)
    assert re.match(r"secrets\.<key \d>: no consumer uses this secret \(nothing in this spec reads a "
                    r"grafana-admin secret\)", message)


def test_the_default_backend_follows_the_targets() -> None:
    on_cluster = parse_deployment(spec_of("kubernetes-secrets")).spec
    assert backend_of(on_cluster, "api-keys") == "kubernetes"
    edge = stack_spec("phi4-onnx-edge")
    compose_only = parse_deployment(edge | {"secrets": {**edge["secrets"], "api-keys": {}}}).spec
    assert backend_of(compose_only, "api-keys") == "file"


@pytest.mark.parametrize(("change", "path", "words"), [
    (lambda s: s["secrets"]["api-keys"].update(backend="file"), "secrets.api-keys.backend",
     "a file secret has no source on Kubernetes"),
    (lambda s: s["secrets"]["api-keys"].update(vault="kv-other"), "secrets.api-keys.vault",
     "is not used by the kubernetes backend"),
    (lambda s: s["secrets"]["api-keys"].update(backend="azure-key-vault", vault="kv-slm-phi4"),
     "secrets.api-keys.backend", "azure-key-vault needs targets.aks"),
    (lambda s: s["secrets"]["api-keys"].update(backend="external-secrets", store="nowhere"),
     "secrets.api-keys.store", "needs a store that secret_stores.external_secrets declares"),
])
def test_backend_fields_and_targets_must_fit(change, path: str, words: str) -> None:
    spec = spec_of("kubernetes-secrets")
    change(spec)
    found = problems(spec)
    assert any(m.startswith(f"{path}:") and words in m for m in found), found


def test_a_kubernetes_backend_without_a_cluster_target_is_refused() -> None:
    spec = stack_spec("phi4-onnx-edge")
    spec["secrets"] = {**spec["secrets"], "api-keys": {"backend": "kubernetes"}}
    (message,) = problems(spec)
    assert message.startswith("secrets.api-keys.backend: the kubernetes backend serves Kubernetes")


def test_one_consumer_mounts_secrets_from_one_source() -> None:
    spec = spec_of("key-vault-created")
    spec["model"]["hub_token_secret"] = None
    del spec["secrets"]["hf-token"]
    spec["runtime"] = {"kind": "vllm"}
    spec["secrets"]["api-keys"] = {"backend": "kubernetes"}
    found = problems(spec)
    assert any("no azure-key-vault secret uses this vault" in m for m in found)
    webui = spec_of("kubernetes-webui")
    webui["targets"] = {"docker": {"registry": "slmphi4.azurecr.io"}, "aks": {"private_cluster": True}}
    webui["secret_stores"] = {"azure_key_vaults": {"kv-ui": {"tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                                             "secrets_expire_on": "2027-01-01"}}}
    webui["secrets"]["webui-secret-key"] = {"backend": "azure-key-vault", "vault": "kv-ui"}
    (message,) = problems(webui)
    assert message.startswith("secrets: Open WebUI mounts secrets from 2 sources: Key Vault, Kubernetes Secrets")
    assert "kv-ui" not in message


@pytest.mark.parametrize(("vault", "words"), [
    ({"create": False}, "an existing vault needs its resource group"),
    ({"create": True}, "every secret carries an expiry"),
    ({"create": False, "resource_group": "rg", "allowed_ip_ranges": ["203.0.113.0/24"]},
     "expiry and firewall ranges apply to a vault Pulumi creates"),
])
def test_key_vault_stores_are_complete(vault: dict[str, Any], words: str) -> None:
    spec = spec_of("key-vault-created")
    spec["secret_stores"]["azure_key_vaults"]["kv-slm-phi4"] = {"tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                                                **vault}
    assert any(words in m for m in problems(spec))


def test_external_stores_have_a_provider_exactly_when_slm_deploy_creates_them() -> None:
    spec = spec_of("external-hashicorp-vault")
    spec["secret_stores"]["external_secrets"]["vault"]["create"] = False
    (message,) = problems(spec)
    assert message.startswith("secret_stores.external_secrets.vault.provider: is only used when create is true")
    del spec["secret_stores"]["external_secrets"]["vault"]["provider"]
    spec["secret_stores"]["external_secrets"]["vault"]["create"] = True
    (message,) = problems(spec)
    assert message.startswith("secret_stores.external_secrets.vault.provider: a store slm-deploy creates needs")


def test_the_cli_refuses_a_missing_reference_with_exit_code_2_and_writes_nothing(tmp_path) -> None:
    import yaml
    spec = spec_of("kubernetes-secrets")
    del spec["secrets"]["hf-token"]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = run_cli("render", str(path), "--out", str(tmp_path / "out"))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "model.hub_token_secret: model preparation needs the model-hub-token secret" in result.stderr
    assert "hf-token" not in result.stderr
    assert not (tmp_path / "out").exists()
