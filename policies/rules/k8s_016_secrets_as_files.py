"""K16: secrets reach containers as files, never env vars; ConfigMaps hold no secrets."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, get, is_secret_name, items, mapping
from slm_deploy.policies.config_credentials import literal_credentials
from slm_deploy.policies.model import CIS_K8S, TRIVY, Rule, Severity, bench


def _workload(manifest, ctx):
    """Violations for secretKeyRef and envFrom.secretRef in a workload."""
    for path, container in containers(manifest, ctx.kind):
        for index, env in enumerate(items(container.get("env"))):
            if isinstance(env, Mapping) and get(env, "valueFrom", "secretKeyRef") is not None:
                yield f"{path}.env[{index}] reads a Secret through valueFrom.secretKeyRef; mount it as a file"
        for index, source in enumerate(items(container.get("envFrom"))):
            if isinstance(source, Mapping) and source.get("secretRef") is not None:
                yield f"{path}.envFrom[{index}] imports a Secret as environment variables; mount it as a file"


def check(manifest, ctx):
    """Yield violations for secrets in env or credential-named ConfigMap keys."""
    if ctx.kind == "ConfigMap":
        for section in ("data", "binaryData"):
            for index, key in enumerate(sorted(str(k) for k in mapping(manifest.get(section)).keys())):
                if is_secret_name(key.replace(".", "_").replace("-", "_")):
                    yield f"{section} has a credential-named key (entry {index}); keep credentials in a Secret"
        for key, text in sorted(mapping(manifest.get("data")).items(), key=lambda item: str(item[0])):
            if isinstance(text, str):
                for reason in literal_credentials(str(key), text):
                    yield f"data[{key}]: {reason}"
        return
    yield from _workload(manifest, ctx)


RULE = Rule(
    id="slm-k8s-016",
    name="Secrets are mounted as files, never exposed as environment variables or kept in ConfigMaps.",
    severity=Severity.HIGH,
    controls=("K16",),
    kinds=WORKLOAD_KINDS | {"ConfigMap"},
    rationale="Environment variables leak into crash dumps, /proc, child processes and logs of "
              "debugging tools, and ConfigMaps are readable by far more principals than Secrets.",
    remediation="Mount the Secret (or the Key Vault CSI volume) under /run/secrets and point the runtime at "
                "the file (HF_TOKEN_PATH, --api-key-file, *_FILE).",
    benchmarks=(bench(CIS_K8S, "5.4.1", "5.4.2"), bench(TRIVY, "KSV-0109")),
    check=check,
    tags=("kubernetes", "secrets"),
)
