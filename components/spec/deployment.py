"""The deployment spec: one typed document from which every artifact is rendered."""

from __future__ import annotations

from pydantic import Field

from slm_deploy.spec.base import SpecModel
from slm_deploy.spec.fields import SecretName, ServiceName
from slm_deploy.spec.model_section import ModelSpec
from slm_deploy.spec.runtime_options import RuntimeOptions
from slm_deploy.spec.secrets import SecretRef, SecretStores
from slm_deploy.spec.sections import (
    ComposeTarget,
    DockerTarget,
    Exposure,
    Monitoring,
    Resources,
    Security,
    Serving,
    Targets,
    Waiver,
)


def _default_targets() -> Targets:
    return Targets.model_construct(docker=DockerTarget.model_construct(), compose=ComposeTarget.model_construct())


class DeploymentSpec(SpecModel):
    """One model served by one runtime, with everything around it."""

    name: ServiceName
    """DNS-1035 label naming the deployment, its services and its Kubernetes objects."""
    model: ModelSpec
    runtime: RuntimeOptions
    resources: Resources = Field(default_factory=Resources.model_construct)
    serving: Serving = Field(default_factory=Serving.model_construct)
    exposure: Exposure = Field(default_factory=Exposure.model_construct)
    targets: Targets = Field(default_factory=_default_targets)
    """Defaults to docker and compose when omitted (Kubernetes needs a registry to pull built images from)."""
    monitoring: Monitoring = Field(default_factory=Monitoring.model_construct)
    secrets: dict[SecretName, SecretRef] = Field(default_factory=dict)
    """Secrets by name, with their purpose and backend; values come from the store, never from here. Secrets the
    spec uses under their default names (api-keys, and webui-secret-key and webui-api-key with Open WebUI) are
    declared with the default backend when left out."""
    secret_stores: SecretStores = Field(default_factory=SecretStores.model_construct)
    """The Key Vaults and External Secrets stores the secrets' backends name."""
    security: Security = Field(default_factory=Security.model_construct)
    waivers: list[Waiver] = Field(default_factory=list)
