"""Every spec with a Kubernetes target: the example stacks that have one plus the specs under kubernetes_specs/."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment, load_deployment
from tests.conftest import STACKS

SPECS_DIR = Path(__file__).parent / "kubernetes_specs"
OWN_NAMESPACE_FOLDERS = ("kubernetes/cluster", "kubernetes/monitoring")
"""Folders whose objects live in namespaces of their own, judged apart from the workloads."""
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "DaemonSet")
CRD_KINDS = ("keda.sh/v1alpha1/ScaledObject", "keda.sh/v1alpha1/TriggerAuthentication",
             "monitoring.coreos.com/v1/PodMonitor", "monitoring.coreos.com/v1/PrometheusRule",
             "azmonitoring.coreos.com/v1/PodMonitor")
"""Custom resources kubernetes-validate has no schema for; test_monitoring_crds validates them against the
vendored CRD schemas instead."""


def kubernetes_specs() -> list[Path]:
    """Example stacks that render kubernetes/, then the extra specs that cover the other runtimes."""
    stacks = [s for s in STACKS if kubernetes_target(load_deployment(s).spec) is not None]
    return stacks + sorted(SPECS_DIR.glob("*.yaml"))


def case_id(path: Path) -> str:
    """pytest id: the stack or spec name."""
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


@lru_cache(maxsize=None)
def deployment_of(path: Path) -> Deployment:
    """The loaded spec, once per test process."""
    return load_deployment(path)


@lru_cache(maxsize=None)
def kubernetes_files(path: Path) -> dict[str, str]:
    """kubernetes/<file> -> text of the rendered bundle."""
    files = render_bundle(deployment_of(path)).files
    return {name: text for name, text in files.items() if name.startswith("kubernetes/")}


def objects(path: Path, folder: str | None = None) -> list[dict[str, Any]]:
    """Every rendered object (not the kustomizations), parsed afresh so tests may not share mutations; with
    `folder`, only those of kubernetes/<folder>/ (the workloads are the top folder, ""). Without it, the cluster
    add-ons (kubernetes/cluster/) are left out, since the device plugin runs as root by design, judged by its waivers,
    and so is the bundled monitoring stack (kubernetes/monitoring/), in a namespace of its own with accounts that
    read the API (tests/monitoring/test_kubernetes_stack.py judges it)."""
    return [yaml.safe_load(text) for name, text in sorted(kubernetes_files(path).items())
            if not name.endswith("kustomization.yaml")
            and (name.rsplit("/", 1)[0] not in OWN_NAMESPACE_FOLDERS if folder is None
                 else name.rsplit("/", 1)[0] == f"kubernetes{'/' + folder if folder else ''}")]


def of_kind(path: Path, kind: str) -> list[dict[str, Any]]:
    """The rendered objects of one kind."""
    return [o for o in objects(path) if o["kind"] == kind]


def pod_templates(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod template) for every workload."""
    return [(f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]) for o in objects(path)
            if o["kind"] in WORKLOAD_KINDS]


def all_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Init containers and containers of one pod spec."""
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def workload(path: Path, component: str) -> dict[str, Any]:
    """The one Deployment of a component (runtime, gateway, ui)."""
    (found,) = [o for o in of_kind(path, "Deployment")
                if o["metadata"]["labels"]["slm-deploy.io/component"] == component]
    return found


def write_folder(path: Path, root: Path) -> Path:
    """Write the rendered kubernetes/ folder under root and return it."""
    folder = root / "kubernetes"
    folder.mkdir(parents=True)
    for name, text in kubernetes_files(path).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return folder


CASES = kubernetes_specs()
