"""Assemble every rendered artifact into a Bundle: relative path -> text, plus its manifest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from slm_deploy import __version__
from slm_deploy.errors import SpecError
from slm_deploy.render.clients import client_endpoint
from slm_deploy.render.compose import project_name, render_compose
from slm_deploy.render.hosts import render_host
from slm_deploy.runtimes.mlx import install_root
from slm_deploy.render.images import build_context, build_owners, built_image, compose_image_names, registry_tags
from slm_deploy.render.monitoring.bundle import monitoring_files, readme_facts
from slm_deploy.render.serialize import to_json, to_yaml
from slm_deploy.render.smoke import with_smoke
from slm_deploy.render.templating import render_template
from slm_deploy.render.unused_images import unused_image_problems
from slm_deploy.render.waiver_targets import stale_waiver_problems
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.runtimes.capabilities import capabilities
from slm_deploy.runtimes.egress_allowlist import allowed_hosts
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.render.secrets_readme import secret_notes
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.idle_fields import host_only
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.sizing import GPU_MEMORY

MANIFEST = "manifest.json"
GENERATOR = "slm-deploy"


@dataclass(frozen=True)
class Bundle:
    """The rendered files, keyed by path relative to the bundle root, in sorted order."""

    files: dict[str, str]

    def manifest(self) -> dict:
        """What manifest.json records: each file's sha256, so readers can tell owned files."""
        return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(self.files.items())}


def _docker_files(deployment: Deployment, plan: RuntimePlan) -> dict[str, str]:
    return {f"docker/{owner.name}/{path}": text
            for owner in build_owners(plan) for path, text in build_context(deployment, owner).items()}


def _compose_files(deployment: Deployment, plan: RuntimePlan) -> dict[str, str]:
    return {
        "compose/compose.yaml": to_yaml(render_compose(deployment, plan)),
        "compose/.env": f"COMPOSE_PROJECT_NAME={project_name(deployment)}\n",
    }


def _kustomize(folder: str, objects: list, deployment: Deployment) -> dict[str, str]:
    from slm_deploy.render.kubernetes.objects import file_name, kustomization  # noqa: PLC0415

    files = {f"{folder}/{file_name(obj)}": to_yaml(obj) for obj in objects}
    files[f"{folder}/kustomization.yaml"] = to_yaml(kustomization([file_name(obj) for obj in objects], deployment,
                                                                  objects))
    return files


def _kubernetes_files(deployment: Deployment, plan: RuntimePlan, tested: RuntimePlan) -> dict[str, str]:
    """The workloads, plus the smoke Job in its own kustomization (applied after the workloads are up)."""
    # only specs with a cluster target load the Kubernetes renderers
    from slm_deploy.render.kubernetes.cert_manager import cert_manager_release  # noqa: PLC0415
    from slm_deploy.render.kubernetes.cluster_add_ons import cert_manager_objects, render_cluster_add_ons  # noqa: PLC0415
    from slm_deploy.render.kubernetes.objects import file_name, render_kubernetes  # noqa: PLC0415
    from slm_deploy.render.monitoring.kubernetes_stack import render_monitoring_stack  # noqa: PLC0415
    from slm_deploy.render.smoke import smoke_kubernetes  # noqa: PLC0415

    files = _kustomize("kubernetes", render_kubernetes(deployment, plan), deployment)
    add_ons = render_cluster_add_ons(deployment.spec)
    if add_ons:  # objects in namespaces of their own (and cluster-scoped): no namespace transformer
        files.update({f"kubernetes/cluster/{file_name(obj)}": to_yaml(obj) for obj in add_ons})
        files["kubernetes/cluster/kustomization.yaml"] = to_yaml({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [file_name(obj) for obj in add_ons]})
    if cert_manager_objects(deployment.spec):  # the chart release itself: installed with Helm, judged by `check`
        files[CERT_MANAGER_RELEASE_FILE] = to_yaml(cert_manager_release(deployment.spec))
    stack = render_monitoring_stack(deployment, plan)
    if stack:  # in the monitoring namespace, reading the deployment's: every object names its namespace
        files.update({f"kubernetes/monitoring/{file_name(obj)}": to_yaml(obj) for obj in stack})
        files["kubernetes/monitoring/kustomization.yaml"] = to_yaml({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [file_name(obj) for obj in stack]})
    smoke = smoke_kubernetes(deployment, tested)
    if smoke:
        files.update(_kustomize("kubernetes/smoke", smoke, deployment))
    return files


def _readme(deployment: Deployment, plan: RuntimePlan, files: dict[str, str]) -> str:
    spec = deployment.spec
    compose_project = project_name(deployment) if "compose/compose.yaml" in files else None
    builds = [
        {"name": s.name, "tags": registry_tags(deployment, s),
         "compose": compose_image_names(compose_project, plan, s) if compose_project else []}
        for s in build_owners(plan)
    ]
    docker = spec.targets.docker
    return render_template(
        "bundle/README.md.j2",
        spec=spec,
        model=deployment.model,
        sizing=deployment.sizing,
        host_only=host_only(spec),
        host_root=install_root(spec.name) if spec.runtime.kind == "mlx" else None,
        builds=builds,
        push=bool(docker and docker.registry),
        compose_project=compose_project,
        prep=[s for s in plan.services if s.role == "model-prep"],
        egress_proxy=next(iter(plan.by_role("egress-proxy")), None),
        egress_hosts=allowed_hosts(deployment) if plan.by_role("egress-proxy") else (),
        ui=plan.by_role("ui"),
        gateway=plan.by_role("gateway"),
        hub_token=spec.model.hub_token_secret,
        api_keys_secret=spec.serving.auth.api_keys_secret if spec.serving.auth.enabled else None,
        uid=spec.security.uid,
        has_compose="compose/compose.yaml" in files,
        has_kubernetes="kubernetes/kustomization.yaml" in files,
        has_cluster_add_ons="kubernetes/cluster/kustomization.yaml" in files,
        namespace=namespace_of(spec),
        shared_namespace=bool((target := kubernetes_target(spec)) and target.shared_namespace),
        storage_class=target.storage_class if target else None,
        autoscaling=spec.serving.autoscaling.enabled,
        hosts=plan.hosts,
        secret_notes=secret_notes(deployment),
        key_vault=any(n.backend == "azure-key-vault" for n in secret_notes(deployment)),
        external_secrets=any(n.backend == "external-secrets" for n in secret_notes(deployment)),
        runtime_services=[s for s in plan.services if s.port and s.role in ("runtime", "ui")],
        gpu=spec.resources.gpu,
        gpu_memory=GPU_MEMORY[spec.resources.gpu.type] if spec.resources.gpu else None,
        gib=lambda n: f"{n / 2**30:.1f} GiB",
        monitoring=readme_facts(deployment, plan, files),
        clients=client_endpoint(deployment, plan),
        smoke=(plan.by_role("smoke") or [None])[0],
        smoke_job="kubernetes/smoke/kustomization.yaml" in files,
        smoke_note=capabilities(deployment).tool_calls_note,
    )


def built_images_record(deployment: Deployment, plan: RuntimePlan) -> dict[str, dict[str, Any]]:
    """What manifest.json says of each image the bundle builds: its context, name, extra tags and (until
    `slm-deploy build --push` pins the bundle) no digest."""
    return {owner.name: {"context": f"docker/{owner.name}", "name": built_image(deployment, owner),
                         "tags": registry_tags(deployment, owner)[1:], "digest": None}
            for owner in build_owners(plan)}


CERT_MANAGER_RELEASE_FILE = "helm/cert-manager.yaml"
"""The cert-manager release `pulumi up` installs, as its helm.sh/v3 Release (values included)."""


def policy_config(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Rule options the spec sets (its reviewed trust-remote-code allow-list, a namespace its owner bounds), so
    `check` judges by them."""
    config: dict[str, dict[str, Any]] = {}
    allowed = deployment.spec.security.trust_remote_code_allowlist
    if allowed:
        config["slm-serving-001"] = {"trustRemoteCodeAllowlist": list(allowed)}
    target = kubernetes_target(deployment.spec)
    if target is not None and target.shared_namespace:
        config["slm-k8s-021"] = {"sharedNamespaces": [namespace_of(deployment.spec)]}
    return config


def render_bundle(deployment: Deployment) -> Bundle:
    """Render every target the spec turns on; pure and deterministic. A problem found while rendering names the
    spec's line like the loader's."""
    try:
        return _rendered(deployment)
    except SpecError as exc:
        raise type(exc)(deployment.error(exc.problems).problems) from None


def _rendered(deployment: Deployment) -> Bundle:
    plan = deployable_plan(deployment)
    tested = with_smoke(deployment, plan)  # Compose and the README also get the smoke checks
    targets = deployment.spec.targets
    files: dict[str, str] = {}
    if (targets.docker or targets.compose) and plan.services:
        files.update(_docker_files(deployment, tested))
    if targets.compose and plan.services:
        files.update(_compose_files(deployment, tested))
    if kubernetes_target(deployment.spec) and plan.services:
        files.update(_kubernetes_files(deployment, plan, tested))
    files.update(monitoring_files(deployment, plan))
    for host in plan.hosts:
        files.update(render_host(host, deployment))
    files["README.md"] = _readme(deployment, tested, files)
    stale = stale_waiver_problems(deployment.spec, files) + unused_image_problems(deployment.spec, files)
    if stale:
        raise SpecError(stale)
    body = Bundle(dict(sorted(files.items())))
    manifest: dict[str, Any] = {
        "generator": {"name": GENERATOR, "version": __version__},
        "deployment": deployment.spec.name,
        "spec_sha256": deployment.spec_hash,
        "files": body.manifest(),
    }
    if any(name.startswith("docker/") for name in body.files):
        manifest["images"] = built_images_record(deployment, tested)
    if deployment.spec.waivers:  # so `slm-deploy check` applies (and lists) the spec's waivers
        manifest["waivers"] = [w.model_dump(mode="json") for w in deployment.spec.waivers]
    if policy_config(deployment):
        manifest["policy_config"] = policy_config(deployment)
    return Bundle({**body.files, MANIFEST: to_json(manifest)})
