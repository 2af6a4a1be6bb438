"""How long `pulumi up` awaits the objects tied to the model cache: as long as the cluster itself may wait for it."""

import pulumi

from slm_deploy.render.kubernetes.common import Manifest
from slm_deploy.render.kubernetes.model_cache import MARK_CONTAINER, WAIT_CONTAINER, wait_beyond_deadline

READINESS_SECONDS = 600
"""pulumi-kubernetes' default await (10 minutes), kept for a serving workload to start once its model is there."""
WORKLOAD_KINDS = frozenset({("apps/v1", "Deployment"), ("apps/v1", "StatefulSet")})


def _pod(manifest: Manifest) -> dict:
    return manifest.get("spec", {}).get("template", {}).get("spec", {})


def fills_model_cache(manifest: Manifest) -> bool:
    """A preparation Job: it writes the ready marker the serving pods wait for."""
    return (manifest["apiVersion"], manifest["kind"]) == ("batch/v1", "Job") and any(
        c["name"] == MARK_CONTAINER for c in _pod(manifest).get("containers", []))


def waits_for_model_cache(manifest: Manifest) -> bool:
    """A serving workload whose pods wait for a preparation Job before they start."""
    return (manifest["apiVersion"], manifest["kind"]) in WORKLOAD_KINDS and any(
        c["name"] == WAIT_CONTAINER for c in _pod(manifest).get("initContainers", []))


def await_seconds(manifest: Manifest, manifests: list[Manifest]) -> int | None:
    """A preparation Job: while it may still succeed; a workload waiting for one: that, then the default readiness
    await; anything else: the provider's default (None)."""
    preparations = [wait_beyond_deadline(m["spec"]["activeDeadlineSeconds"]) for m in manifests
                    if fills_model_cache(m)]
    if fills_model_cache(manifest):
        return wait_beyond_deadline(manifest["spec"]["activeDeadlineSeconds"])
    if waits_for_model_cache(manifest) and preparations:
        return max(preparations) + READINESS_SECONDS
    return None


def await_timeouts(manifest: Manifest, manifests: list[Manifest]) -> pulumi.CustomTimeouts | None:
    """customTimeouts for create and update, so `pulumi up` outlasts a preparation that is still allowed to run."""
    seconds = await_seconds(manifest, manifests)
    if seconds is None:
        return None
    return pulumi.CustomTimeouts(create=f"{seconds}s", update=f"{seconds}s")
