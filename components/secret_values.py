"""Secret values in Pulumi: read from `pulumi config set --secret`, kept as secret Outputs end to end, written only
into stores Pulumi owns (Kubernetes Secrets, Key Vaults it creates)."""

from __future__ import annotations

import copy
from functools import partial
from collections.abc import Callable, Mapping

import pulumi

from slm_deploy.errors import Problem, SpecError
from slm_deploy.render.kubernetes.common import Manifest, meta
from slm_deploy.render.kubernetes.secret_sources import CLIENT_ID_ANNOTATION
from slm_deploy.spec.consistency import secret_namespace
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.secret_uses import CONFIG_PREFIX, CONSUMER_NAMES, backend_of, config_key, secret_uses, vault_of

def secrets_pulumi_writes(deployment: Deployment) -> list[str]:
    """Secrets whose value Pulumi stores: kubernetes-backend ones and those in a Key Vault Pulumi creates."""
    spec = deployment.spec
    names = []
    for name in sorted(spec.secrets):
        backend = backend_of(spec, name)
        if backend == "kubernetes" or (backend == "azure-key-vault"
                                       and spec.secret_stores.azure_key_vaults[vault_of(spec, name)].create):
            names.append(name)
    return names


def read_secret_values(lookup: Callable[[str], pulumi.Input[str] | None], deployment: Deployment,
                       needed: Callable[[str], bool] = lambda name: True) -> dict[str, pulumi.Output[str]]:
    """Each value Pulumi writes (of the secrets `needed` keeps), as a secret Output; a missing one names the
    secret, who reads it and the command that sets it. `lookup` maps a config key (secret-<name>) to its value."""
    values, problems = {}, []
    for name in filter(needed, secrets_pulumi_writes(deployment)):
        value = lookup(f"{CONFIG_PREFIX}{name}")
        if value is None:
            readers = ", ".join(f"{CONSUMER_NAMES[u.consumer]} ({u.path})"
                                for u in secret_uses(deployment.spec) if u.secret == name)
            problems.append(Problem(config_key(name), f"secret {name!r} has no value; {readers} reads it",
                                    hint=f"pulumi config set --secret {config_key(name)} < the-file "
                                         "(the format is in the bundle README)"))
        else:
            values[name] = pulumi.Output.secret(value)
    if problems:
        raise SpecError(problems)
    return values


def kubernetes_secrets(deployment: Deployment, values: Mapping[str, pulumi.Input[str]]) -> list[Manifest]:
    """One Secret per kubernetes-backend secret `values` holds (read_secret_values' result, which refuses a missing
    one), its one key named like the secret, its value a secret Output, in
    the namespace of the pods that mount it (Grafana's and Alertmanager's in the monitoring namespace)."""
    spec = deployment.spec
    return [{"apiVersion": "v1", "kind": "Secret",
             "metadata": {**meta(deployment, name), "namespace": secret_namespace(spec, name)}, "type": "Opaque",
             "stringData": {name: pulumi.Output.secret(values[name])}}
            for name in sorted(spec.secrets) if backend_of(spec, name) == "kubernetes" and name in values]


def _azure_name(vault: str, names: Mapping[str, str]) -> str:
    """The Azure name of a vault the spec declares, from KeyVaultSecrets' vault_names."""
    if vault not in names:
        raise ValueError(f"args['key_vault_names'] has no entry for the spec's vault {vault}; pass KeyVaultSecrets' "
                         "vault_names")
    return names[vault]


def with_key_vault(manifests: list[Manifest], deployment: Deployment, client_id: pulumi.Input[str],
                   vault_names: pulumi.Input[Mapping[str, str]] | None) -> list[Manifest]:
    """The manifests with the identity's client id in every SecretProviderClass and on the workloads' account,
    and each SecretProviderClass naming its vault as Azure knows it (a created vault's name is scoped)."""
    spec, patched = deployment.spec, []
    stores = spec.secret_stores.azure_key_vaults
    for manifest in manifests:
        if manifest["kind"] == "SecretProviderClass":
            manifest = copy.deepcopy(manifest)
            parameters = manifest["spec"]["parameters"]
            parameters["clientID"] = client_id
            vault = parameters["keyvaultName"]
            if vault_names is None and stores[vault].create:
                raise TypeError("KubernetesWorkloads needs args['key_vault_names'] (KeyVaultSecrets' vault_names) "
                                "to mount from the Key Vaults Pulumi creates")
            if vault_names is not None:
                parameters["keyvaultName"] = pulumi.Output.from_input(vault_names).apply(partial(_azure_name, vault))
        elif manifest["kind"] == "ServiceAccount" and manifest["metadata"]["name"] == spec.name:
            manifest = copy.deepcopy(manifest)
            manifest["metadata"].setdefault("annotations", {})[CLIENT_ID_ANNOTATION] = client_id
        patched.append(manifest)
    return patched
