"""`pulumi up` awaits the preparation Job and the workloads waiting for it as long as the cluster may wait, not the
provider's 10-minute default, which would fail an update while a real download and conversion still run."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from slm_deploy import kubernetes_workloads
from slm_deploy.model_wait_timeouts import READINESS_SECONDS
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.kubernetes.objects import render_kubernetes
from slm_deploy.spec.loader import parse_deployment
from tests.runtimes.test_model_preparation import SPEC


def created_options(monkeypatch: pytest.MonkeyPatch, spec: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """(kind, object name) -> the ResourceOptions each rendered object is created with."""
    deployment = parse_deployment(copy.deepcopy(spec))
    manifests = render_kubernetes(deployment, deployable_plan(deployment))
    seen: dict[tuple[str, str], Any] = {}

    def record(kind: str):
        def create(name: str, opts: pulumi.ResourceOptions, **args: Any) -> Any:
            seen[(kind, args["metadata"]["name"])] = opts
        return create

    monkeypatch.setattr(kubernetes_workloads, "RESOURCE_TYPES",
                        {key: record(key[1]) for key in kubernetes_workloads.RESOURCE_TYPES})
    monkeypatch.setattr(kubernetes_workloads, "CUSTOM_KINDS", frozenset())
    inside = [m for m in manifests if (m["apiVersion"], m["kind"]) in kubernetes_workloads.RESOURCE_TYPES
              and m["kind"] != "Namespace"]
    kubernetes_workloads.create_objects(None, "w", inside, None)
    return seen


def seconds(timeouts: pulumi.CustomTimeouts | None) -> tuple[int, int] | None:
    if timeouts is None:
        return None
    assert timeouts.create.endswith("s") and timeouts.update.endswith("s")
    return int(timeouts.create[:-1]), int(timeouts.update[:-1])


def test_the_preparation_job_and_the_server_waiting_for_it_outlast_the_job_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = parse_deployment(copy.deepcopy(SPEC))
    manifests = render_kubernetes(deployment, deployable_plan(deployment))
    (job,) = [m for m in manifests if m["kind"] == "Job"]
    served = next(m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "tiny")
    wait = next(c for c in served["spec"]["template"]["spec"]["initContainers"] if c["name"] == "wait-for-model")
    waited = int(wait["command"][-1].split('"$waited" -ge ')[1].split("]")[0])
    options = created_options(monkeypatch, SPEC)
    job_await = seconds(options[("Job", job["metadata"]["name"])].custom_timeouts)
    server_await = seconds(options[("Deployment", "tiny")].custom_timeouts)
    assert job_await == (waited, waited) and waited > job["spec"]["activeDeadlineSeconds"] > 600
    assert server_await == (waited + READINESS_SECONDS, waited + READINESS_SECONDS)


def test_objects_that_wait_for_no_preparation_keep_the_provider_default(monkeypatch: pytest.MonkeyPatch) -> None:
    options = created_options(monkeypatch, SPEC)
    others = {key: o.custom_timeouts for key, o in options.items() if key[0] != "Job" and key != ("Deployment", "tiny")}
    assert others and all(timeouts is None for timeouts in others.values())
