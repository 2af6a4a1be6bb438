"""The model cache: one shared claim, filled once by a pre-download Job, read offline by every serving pod.

Why a Deployment with a shared ReadWriteMany claim rather than a StatefulSet with a claim per replica: the
weights are downloaded once (not once per replica), only the Job's pods need a route to the model hub (the
serving pods have none), and a Deployment can roll out with maxSurge 1 / maxUnavailable 0, which a
StatefulSet cannot. ReadWriteOnce would let a surge pod or a second replica on another node hang in
ContainerCreating (multi-attach), so the claim asks for ReadWriteMany and the storage class must offer it
(Azure Files, NFS, CephFS).
"""

from __future__ import annotations

import shlex
from typing import Any

from slm_deploy.render.images import cluster_image
from slm_deploy.render.kubernetes.common import Manifest, bounded_name, meta, short_hash
from slm_deploy.render.kubernetes.pods import config_files, container, pod_spec, volumes
from slm_deploy.render.kubernetes.security import container_security
from slm_deploy.runtimes.plan import RuntimePlan, ServicePlan
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.quantity import format_gib

READY_DIR = ".slm-ready"
JOB_RETRIES = 4
WAIT_POLL_SECONDS = 10
WAIT_MARGIN_SECONDS = 120
"""Beyond the Job's deadline: its pod is scheduled and its image pulled, and the marker is written after it."""
MARK_CONTAINER = "mark-ready"
"""The preparation Job's container that writes the ready marker once the cache is filled."""
WAIT_CONTAINER = "wait-for-model"
"""The serving pods' init container that waits for that marker."""
SMALL = {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}


def job_deadline_seconds(runtime: ServicePlan) -> int:
    """The preparation Job's activeDeadlineSeconds: twice the runtime's startup budget (download, then convert)."""
    return 2 * runtime.startup_budget_seconds


def wait_beyond_deadline(deadline_seconds: int) -> int:
    """How long the cache may take to be ready: while a Job of this deadline may still succeed, a poll and a margin."""
    return deadline_seconds + WAIT_POLL_SECONDS + WAIT_MARGIN_SECONDS


def model_wait_seconds(runtime: ServicePlan) -> int:
    """How long a serving pod waits for the cache the runtime's preparation Job fills."""
    return wait_beyond_deadline(job_deadline_seconds(runtime))


def claim_name(deployment: Deployment) -> str:
    """The model cache claim every pod of the deployment mounts at the plan's model directory."""
    return f"{deployment.spec.name}-models"


def model_claim(deployment: Deployment) -> Manifest:
    """ReadWriteMany, sized from the weights (twice, at least 5Gi) unless the spec sets cache_size."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteMany"],
                            "resources": {"requests": {"storage": format_gib(deployment.sizing.cache_volume_bytes)}}}
    target = kubernetes_target(deployment.spec)
    if target and target.storage_class:
        spec["storageClassName"] = target.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(deployment, claim_name(deployment)),
            "spec": spec}


def prep_key(prep: ServicePlan) -> str:
    """Identifies what the Job fetches; a new model (or Modelfile) gives a new Job and a new ready marker."""
    return short_hash(prep.command, prep.args, prep.env, sorted(config_files(prep).items()))


def ready_marker(prep: ServicePlan) -> str:
    """The file the Job writes into the cache once the model is complete."""
    return f"{prep.model_dir}/{READY_DIR}/{prep_key(prep)}"


def job_name(prep: ServicePlan) -> str:
    """The pre-download Job's name; it changes with the model, because a Job's pod template is immutable."""
    return bounded_name(prep.name, prep_key(prep))


def config_map_name(service: ServicePlan) -> str:
    """The ConfigMap holding a service's scripts and Modelfile."""
    return bounded_name(service.name, "files")


def config_map(deployment: Deployment, service: ServicePlan) -> Manifest:
    """Scripts the upstream image lacks (prepare-model.sh, Modelfile, the Open WebUI entrypoint)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta(deployment, config_map_name(service), dict(service.labels)),
            "data": dict(sorted(config_files(service).items()))}


def prep_job(deployment: Deployment, plan: RuntimePlan, prep: ServicePlan, service_account: str,
             runtime: ServicePlan, earlier: list[ServicePlan]) -> Manifest:
    """Fill the cache in init containers, then write the ready marker. A prepared model is downloaded first (the
    only container with the hub token as a file), then converted by a container that mounts no token; containers
    of one pod share its network, so the conversion runs with the hub client told to stay offline."""
    labels = dict(prep.labels)
    marker = ready_marker(prep)
    mark = {
        "name": MARK_CONTAINER,
        "image": cluster_image(deployment, plan, prep),
        "imagePullPolicy": "Always",
        "command": ["/bin/sh", "-c", f"mkdir -p {shlex.quote(marker.rsplit('/', 1)[0])} && : > {shlex.quote(marker)}"],
        "resources": SMALL,
        "securityContext": container_security(deployment),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "models", "mountPath": prep.model_dir}],
    }
    steps = [container(deployment, plan, step, name="download") for step in earlier]
    steps.append(container(deployment, plan, prep, name="convert" if earlier else "fetch"))
    token_holder = next((step for step in [*earlier, prep] if step.secret_files), prep)
    pod = pod_spec(
        deployment, service_account,
        restartPolicy="OnFailure",
        initContainers=steps,
        containers=[mark],
        volumes=volumes(deployment, token_holder, claim=claim_name(deployment),
                        config_map=config_map_name(prep) if config_files(prep) else None),
    )
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": meta(deployment, job_name(prep), labels),
        "spec": {
            "backoffLimit": JOB_RETRIES,
            "activeDeadlineSeconds": job_deadline_seconds(runtime),
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def wait_for_model(deployment: Deployment, plan: RuntimePlan, runtime: ServicePlan, prep: ServicePlan) -> dict[str, Any]:
    """An init container in each serving pod that waits for the Job's marker (no probe runs while it waits) as long
    as the Job may still succeed, then checks a prepared model's provenance and checksums, so a mismatched or
    corrupted cache is never served."""
    marker = shlex.quote(ready_marker(prep))
    script = (f"waited=0; until [ -f {marker} ]; do "
              f"if [ \"$waited\" -ge {model_wait_seconds(runtime)} ]; then echo 'model cache not ready' >&2; exit 1; fi; "
              f"sleep {WAIT_POLL_SECONDS}; waited=$((waited + {WAIT_POLL_SECONDS})); done")
    if runtime.model_check:
        script = f"{script}\n{runtime.model_check}"
    return {
        "name": WAIT_CONTAINER,
        "image": cluster_image(deployment, plan, runtime),
        "imagePullPolicy": "Always",
        "command": ["/bin/sh", "-c", script],
        "resources": SMALL,
        "securityContext": container_security(deployment),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},
                         {"name": "models", "mountPath": prep.model_dir, "readOnly": True}],
    }
