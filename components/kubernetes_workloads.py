"""KubernetesWorkloads: the rendered Kubernetes objects as typed pulumi-kubernetes resources."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from slm_deploy.render.kubernetes import Manifest

RESOURCE_TYPES: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
}
"""Typed classes, so mocks and CrossGuard see every object with literal security fields."""
CUSTOM_KINDS: frozenset[tuple[str, str]] = frozenset({
    ("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("monitoring.coreos.com/v1", "PodMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("azmonitoring.coreos.com/v1", "PodMonitor"),
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("external-secrets.io/v1", "SecretStore"),
    ("external-secrets.io/v1", "ClusterSecretStore"),
})
"""CRD objects the renderer emits; registered as apiextensions.CustomResource (KEDA, the Prometheus operator or
AKS's managed agent, the Secrets Store CSI driver or External Secrets Operator must be installed)."""
SECRET_FIELDS = {("v1", "Secret"): ["data", "stringData"]}
"""Outputs the provider returns that carry secret values, kept secret in state and previews."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resource_args(manifest: Manifest) -> dict[str, Any]:
    """Top-level fields as snake_case keyword arguments; nested camelCase dicts pass through unchanged."""
    return {_snake(key): value for key, value in manifest.items() if key not in ("apiVersion", "kind")}


def logical_name(manifest: Manifest) -> str:
    """A stable Pulumi name per object: <kind>-<name>."""
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}"


class KubernetesWorkloads(pulumi.ComponentResource):
    """Creates the namespace first, then every other object inside it."""

    def __init__(self, name: str, manifests: list[Manifest], provider: k8s.Provider | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:kubernetes:Workloads", name, None, opts)
        base = pulumi.ResourceOptions(parent=self, provider=provider)
        namespaces = [m for m in manifests if m["kind"] == "Namespace"]
        created = [self._create(m, base) for m in namespaces]
        after_namespace = pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=created))
        self.resources = created + [self._create(m, after_namespace) for m in manifests if m["kind"] != "Namespace"]
        self.register_outputs({"objects": [logical_name(m) for m in manifests]})

    @staticmethod
    def _create(manifest: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        key = (manifest["apiVersion"], manifest["kind"])
        if key in CUSTOM_KINDS:
            return k8s.apiextensions.CustomResource(
                logical_name(manifest), api_version=manifest["apiVersion"], kind=manifest["kind"], opts=opts,
                **{k: v for k, v in resource_args(manifest).items()})
        if key in SECRET_FIELDS:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_FIELDS[key]))
        return RESOURCE_TYPES[key](logical_name(manifest), opts=opts, **resource_args(manifest))
