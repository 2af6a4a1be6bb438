"""What the bundle README says about each secret: who reads it, its file format, where its value lives and how
to put it there, and what rotating it takes. Names and commands only, never a value."""

from __future__ import annotations

from dataclasses import dataclass

from slm_deploy.spec.consistency import secret_namespace
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.secret_uses import (
    CONSUMER_NAMES, backend_of, config_key, purpose_of, remote_key, secret_uses, store_of, vault_of,
)
from slm_deploy.spec.secrets import PURPOSES


@dataclass(frozen=True)
class SecretNote:
    """One row of the README's secrets section."""

    name: str
    purpose: str
    readers: str
    file_format: str
    rotation: str
    backend: str
    store: str
    """Where Kubernetes reads the value from, in words."""
    steps: tuple[str, ...]
    """Commands that put the value there (Pulumi first, then by hand)."""


def _steps(deployment: Deployment, name: str) -> tuple[str, tuple[str, ...]]:
    spec = deployment.spec
    ref, backend, key = spec.secrets[name], backend_of(spec, name), remote_key(spec, name)
    pulumi_step = f"pulumi config set --secret {config_key(name)} < ./{name}"
    if backend == "kubernetes":
        namespace = secret_namespace(spec, name)
        return (f"Secret `{name}` in namespace `{namespace}`, key `{name}`",
                (pulumi_step, f"kubectl create secret generic {name} -n {namespace} --from-file={name}=./{name}"))
    if backend == "azure-key-vault":
        vault = spec.secret_stores.azure_key_vaults[vault_of(spec, name)]
        where = f"Key Vault `{ref.vault}`, secret `{key}`, mounted by the Secrets Store CSI driver"
        if vault.create:
            return where, (pulumi_step + f"   # pulumi up writes it with expiry {vault.secrets_expire_on}",)
        content_type = PURPOSES[purpose_of(spec, name)].content_type
        return where, (f"az keyvault secret set --vault-name {ref.vault} --name {key} --file ./{name} "
                       f"--content-type '{content_type}' --expires <date>",)
    if backend == "external-secrets":
        store = spec.secret_stores.external_secrets[store_of(spec, name)]
        provider = store.provider.kind if store.provider else f"the {store.scope}-scoped store"
        where = (f"`{key}` in {provider} through store `{ref.store}`; ExternalSecret `{name}` re-reads it every "
                 f"{store.refresh_interval_seconds} s")
        return where, ()
    return f"the file `compose/secrets/{name}`", ()


def secret_notes(deployment: Deployment) -> list[SecretNote]:
    """One note per declared secret, in name order."""
    spec = deployment.spec
    notes = []
    for name in sorted(spec.secrets):
        purpose = purpose_of(spec, name)
        readers = ", ".join(f"{CONSUMER_NAMES[u.consumer]} (`{u.path}`)" for u in secret_uses(spec) if u.secret == name)
        store, steps = _steps(deployment, name)
        notes.append(SecretNote(name=name, purpose=purpose.value, readers=readers,
                                file_format=PURPOSES[purpose].file_format, rotation=PURPOSES[purpose].rotation,
                                backend=backend_of(spec, name), store=store, steps=steps))
    return notes
