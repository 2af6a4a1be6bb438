"""The smoke checks as part of the bundle: an image built from their sources, a Compose profile and a Kubernetes
Job that people run after deploying (as `helm test` runs a chart's tests); neither runs on its own.

The Compose service joins only an internal network it shares with the service clients use; the Job lives in kubernetes/smoke/ with its
own kustomization and the two NetworkPolicies that let it (and nothing else new) reach the client endpoint, so
`kubectl delete -k kubernetes/smoke/` takes the access away again.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from slm_deploy.runtimes.common import (
    PYTHON_HEALTHCHECK, WRITABLE_PATHS, cache_env, pinned, python_venv_env, secret_file, service_labels,
)
from slm_deploy.runtimes.plan import HttpCheck, ImageBuild, RuntimePlan, ServicePlan
from slm_deploy.servers.gateway.render import GATEWAY_METRICS_PATH
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment

if TYPE_CHECKING:
    from slm_deploy.render.kubernetes.common import Manifest

SMOKE_ROOT = "/opt/slm-smoke"
EXPECTATIONS_FILE = "expectations.json"
EXPECTATIONS_PATH = f"/etc/slm-smoke/{EXPECTATIONS_FILE}"
PROFILE = "smoke"
JOB_DEADLINE_SECONDS = 900
JOB_TTL_SECONDS = 86_400
# The smoke package's modules the image carries; from_spec is left out (it needs the spec code, the image reads
# the expectations file instead).
SMOKE_MODULES = ("__init__", "__main__", "access_checks", "command", "expectations", "keys", "ollama_checks",
                 "openai_checks", "report", "runner", "session")
# Exact pins for the smoke image: httpx and httpx-sse with their dependencies, typer and rich with theirs.
SMOKE_REQUIREMENTS = (
    "anyio==4.12.1",
    "certifi==2026.1.4",
    "click==8.3.1",
    "h11==0.16.0",
    "httpcore==1.0.9",
    "httpx==0.28.1",
    "httpx-sse==0.4.3",
    "idna==3.11",
    "markdown-it-py==4.0.0",
    "mdurl==0.1.2",
    "pygments==2.19.2",
    "rich==14.3.1",
    "shellingham==1.5.4",
    "typer==0.21.1",
    "typing_extensions==4.15.0",
)


def smoke_name(deployment: Deployment) -> str:
    """The smoke service's (and Job's) name."""
    return f"{deployment.spec.name}-smoke"


def client_service(plan: RuntimePlan) -> ServicePlan | None:
    """What clients connect to: the gateway, or the runtime when there is none."""
    for role in ("gateway", "runtime"):
        found = [s for s in plan.by_role(role) if s.port]
        if found:
            return found[0]
    return None


@lru_cache(maxsize=1)
def smoke_sources() -> tuple[tuple[str, str], ...]:
    """The smoke package and the error base class it needs, nothing else of slm-deploy; read once, as every smoke
    image of a fleet carries the same files."""
    package = resources.files("slm_deploy.smoke")
    files = {
        "requirements.txt": "\n".join(SMOKE_REQUIREMENTS) + "\n",
        "slm_deploy/__init__.py": '"""slm-deploy (smoke image subset)."""\n',
        "slm_deploy/errors.py": resources.files("slm_deploy").joinpath("errors.py").read_text(encoding="utf-8"),
    }
    for module in SMOKE_MODULES:
        files[f"slm_deploy/smoke/{module}.py"] = package.joinpath(f"{module}.py").read_text(encoding="utf-8")
    return tuple(files.items())


def _args(deployment: Deployment, client: ServicePlan, endpoint: str, metrics_url: str | None) -> tuple[str, ...]:
    args = [endpoint, "--expect", EXPECTATIONS_PATH]
    if deployment.spec.serving.auth.enabled and client.role == "gateway":
        args += ["--api-key-file", secret_file(deployment.spec.serving.auth.api_keys_secret).path]
    if metrics_url:
        args += ["--metrics-url", metrics_url]
    return tuple(args)


def _compose_metrics_url(client: ServicePlan) -> str | None:
    """The gateway's scrape target on its own port, which the smoke network (not the host) reaches."""
    if client.role != "gateway" or not client.metrics_port:
        return None
    return f"http://{client.name}:{client.metrics_port}{GATEWAY_METRICS_PATH}"


def smoke_service(deployment: Deployment, client: ServicePlan) -> ServicePlan:
    """The one-shot smoke service, as Compose runs it (the Kubernetes Job replaces only its arguments)."""
    # only specs with a smoke test load what it expects
    from slm_deploy.smoke.from_spec import expectations_for  # noqa: PLC0415

    endpoint = f"http://{client.name}:{client.port}"
    health = client.health.path if isinstance(client.health, HttpCheck) else "/"
    context = {**dict(smoke_sources()), EXPECTATIONS_FILE: expectations_for(deployment).to_json()}
    secrets = ((secret_file(deployment.spec.serving.auth.api_keys_secret),)
               if deployment.spec.serving.auth.enabled and client.role == "gateway" else ())
    env = {**cache_env(), **python_venv_env(), "PYTHONPATH": SMOKE_ROOT}
    return ServicePlan(
        name=smoke_name(deployment), role="smoke", runtime="smoke", image=None,
        build=ImageBuild(template="smoke", base=pinned(deployment, "python"),
                         context_files=tuple(sorted(context.items())),
                         healthcheck=PYTHON_HEALTHCHECK + (f"{endpoint}{health}",)),
        command=("python", "-m", "slm_deploy.smoke"), args=_args(deployment, client, endpoint,
                                                                  _compose_metrics_url(client)),
        env=tuple(sorted(env.items())), port=None, health=None, readiness=None, metrics_path=None,
        writable_paths=WRITABLE_PATHS, secret_files=secrets, cpu=0.25, memory_bytes=256 * 2**20,
        startup_budget_seconds=60, depends_on=(client.name,), one_shot=True,
        labels=service_labels(deployment, "smoke", "smoke"),
    )


def with_smoke(deployment: Deployment, plan: RuntimePlan) -> RuntimePlan:
    """The plan plus the smoke service, when the bundle has a Compose or Kubernetes target to run it against."""
    spec = deployment.spec
    client = client_service(plan)
    if client is None or not (spec.targets.compose or kubernetes_target(spec)):
        return plan
    return RuntimePlan(services=(*plan.services, smoke_service(deployment, client)), hosts=plan.hosts)


def smoke_job(deployment: Deployment, plan: RuntimePlan, smoke: ServicePlan, client: ServicePlan) -> Manifest:
    """Run the checks once against the in-cluster Service; never retried, so a failure stays visible."""
    from slm_deploy.render.kubernetes.common import meta  # noqa: PLC0415
    from slm_deploy.render.kubernetes.pods import container, pod_spec, volumes  # noqa: PLC0415

    labels = dict(smoke.labels)
    body = container(deployment, plan, smoke, name="smoke")
    body["args"] = list(_args(deployment, client, f"http://{client.name}:{client.port}", None))
    pod = pod_spec(deployment, deployment.spec.name, restartPolicy="Never", containers=[body],
                   volumes=volumes(deployment, smoke, claim=None, config_map=None))
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": meta(deployment, smoke.name, labels),
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
                 "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
                 "template": {"metadata": {"labels": labels}, "spec": pod}},
    }


def smoke_kubernetes(deployment: Deployment, plan: RuntimePlan) -> list[Manifest]:
    """The Job, its own Key Vault SecretProviderClass where the key comes from one, and the NetworkPolicies that
    admit it to the client endpoint (kubernetes/smoke/)."""
    # the Kubernetes renderers load only for specs with a cluster target (the Compose service needs none of them)
    from slm_deploy.render.kubernetes.network import connection_policies  # noqa: PLC0415
    from slm_deploy.render.kubernetes.secret_sources import key_vault_of, secret_provider_class  # noqa: PLC0415

    smokes, client = plan.by_role("smoke"), client_service(plan)
    docker = deployment.spec.targets.docker
    if not smokes or client is None or docker is None or docker.registry is None:
        return []  # a cluster can only pull the smoke image from the spec's registry
    smoke = smokes[0]
    sources = [secret_provider_class(deployment, smoke)] if key_vault_of(deployment, smoke) else []
    return [*sources, smoke_job(deployment, plan, smoke, client), *connection_policies(deployment, smoke, client)]

