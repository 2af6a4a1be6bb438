"""A one-node stand-in for the cluster a rendered kubernetes/ folder is applied to.

It reads the folder's Services (their selectors become DNS names on the pods they select, as cluster DNS
gives them), ConfigMaps and PersistentVolumeClaims (one Docker volume per claim, shared by every pod
that mounts it). Secret values come from the test, since a bundle never carries them. Workloads are
run one pod each (Deployment replicas are not multiplied) with `run_pod` and `run_job`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.docker_engine import DockerCommandError, docker, image_exists

from .containers import Unsupported
from .pods import Pod

NODE_LABELS = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "harness"}
INIT_TIMEOUT = 600
PULL_POLICIES = ("Always", "IfNotPresent", "Never")


def load_objects(folder: Path) -> list[dict[str, Any]]:
    """Every object of a rendered kubernetes/ folder (kustomization.yaml excluded)."""
    found = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


class Cluster:
    """Docker network, claims, config and services for the pods of one rendered bundle."""

    def __init__(self, objects: Iterable[Mapping[str, Any]], *, sandbox_image: str,
                 secrets: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.objects = [dict(o) for o in objects]
        self.sandbox_image = sandbox_image
        self.secrets = dict(secrets or {})
        self.node_labels = dict(NODE_LABELS)
        self.init_timeout = INIT_TIMEOUT
        run_id = uuid.uuid4().hex[:8]
        self.prefix = f"kubelet-{run_id}"
        self.label = f"slm-deploy.test/kubelet={run_id}"
        self.config_maps = {o["metadata"]["name"]: dict(o.get("data") or {}) for o in self._kind("ConfigMap")}
        self.services = {o["metadata"]["name"]: o for o in self._kind("Service")}
        self.claims: dict[str, str] = {}
        self.pods: list[Pod] = []
        self.network = f"{self.prefix}-net"
        docker("network", "create", "--internal", "--label", self.label, self.network)
        try:
            for claim in self._kind("PersistentVolumeClaim"):
                volume = f"{self.prefix}-{claim['metadata']['name']}"
                docker("volume", "create", "--label", self.label, volume)
                self.claims[claim["metadata"]["name"]] = volume
        except BaseException:
            self.close()
            raise

    def _kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]

    def workload(self, kind: str, name: str) -> dict[str, Any]:
        """A Deployment or Job of the bundle by name."""
        for found in self._kind(kind):
            if found["metadata"]["name"] == name:
                return found
        raise KeyError(f"no {kind} {name} in the bundle")

    def _aliases(self, labels: Mapping[str, str], namespace: str) -> list[str]:
        """The DNS names cluster DNS gives this pod through every Service that selects it."""
        names = []
        for name, service in sorted(self.services.items()):
            selector = (service.get("spec") or {}).get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                names += [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]
        return names

    def _pod(self, workload: Mapping[str, Any], pod_spec: Mapping[str, Any] | None = None) -> Pod:
        template = workload["spec"]["template"]
        labels = dict(template.get("metadata", {}).get("labels") or {})
        namespace = workload["metadata"].get("namespace", "default")
        name = f"{self.prefix}-{workload['metadata']['name']}"[:60]
        pod = Pod(self, name, pod_spec if pod_spec is not None else template["spec"], labels,
                  self._aliases(labels, namespace))
        self.pods.append(pod)
        return pod

    def run_pod(self, workload: Mapping[str, Any], pod_spec: Mapping[str, Any] | None = None) -> Pod:
        """Start one pod of a Deployment (optionally with an edited pod spec); wait for it with `wait_ready`."""
        return self._pod(workload, pod_spec).start()

    def run_job(self, job: Mapping[str, Any]) -> Pod:
        """Run a Job's pod to completion within its activeDeadlineSeconds."""
        pod = self._pod(job).start()
        pod.wait_completed(float(job["spec"].get("activeDeadlineSeconds", INIT_TIMEOUT)))
        return pod

    def pull(self, image: str, policy: str) -> str:
        """Honour imagePullPolicy: Always pulls (the reference must resolve in its registry)."""
        if policy not in PULL_POLICIES:
            raise Unsupported(f"imagePullPolicy {policy}")
        if policy == "Always" or (policy == "IfNotPresent" and not image_exists(image)):
            docker("pull", "--quiet", image)
        elif policy == "Never" and not image_exists(image):
            raise Unsupported(f"image {image} is not present and imagePullPolicy is Never")
        return image

    def close(self) -> None:
        """Remove every pod, claim volume and the network this cluster made."""
        for pod in self.pods:
            pod.remove()
        for volume in self.claims.values():
            docker("volume", "rm", "--force", volume)
        try:
            docker("network", "rm", self.network)
        except DockerCommandError as error:
            if "not found" not in str(error):
                raise

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
