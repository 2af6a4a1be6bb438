"""What the bundle README's client snippets need: the URL clients use, the model name and how the key is read."""

from __future__ import annotations

from dataclasses import dataclass

from slm_deploy.render.smoke import client_service
from slm_deploy.runtimes.capabilities import capabilities, client_model_name
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment

KEY_VARIABLE = "SLM_API_KEY"
OPENAI_NPM_VERSION = "6.30.1"
OPENAI_NUGET_VERSION = "2.4.0"
ANY_ADDRESS = ("0.0.0.0", "::")


@dataclass(frozen=True)
class ClientEndpoint:
    """The base URL (without /v1), where it is reached from, and what the snippets present as a key."""

    url: str
    reached_from: str
    service: str
    port: int
    model: str
    auth: bool
    ollama: bool
    key_variable: str = KEY_VARIABLE
    openai_npm_version: str = OPENAI_NPM_VERSION
    openai_nuget_version: str = OPENAI_NUGET_VERSION


def client_endpoint(deployment: Deployment, plan: RuntimePlan) -> ClientEndpoint | None:
    """The address a client of this bundle uses: the ingress host, the Compose host port, or the cluster Service."""
    client = client_service(plan)
    if client is None or client.port is None:
        return None
    spec = deployment.spec
    if spec.exposure.mode == "ingress" and spec.exposure.host and kubernetes_target(spec):
        url, where = f"https://{spec.exposure.host}", "anywhere the ingress is reachable"
    elif spec.targets.compose:
        host = "127.0.0.1" if spec.exposure.bind_address in ANY_ADDRESS else spec.exposure.bind_address
        host = f"[{host}]" if ":" in host else host
        url, where = f"http://{host}:{client.port}", "the Compose host"
    else:
        url = f"http://{client.name}.{namespace_of(spec)}.svc.cluster.local:{client.port}"
        where = "pods in the cluster that the NetworkPolicies admit"
    auth = spec.serving.auth.enabled and client.role == "gateway"
    return ClientEndpoint(url, where, client.name, client.port, client_model_name(deployment), auth,
                          capabilities(deployment).native_api == "ollama")
