"""Every Kubernetes object of every spec with a Kubernetes target: schemas, kustomize, Trivy, Pod Security
restricted (each control, on every pod template), the policy pack, and golden files for the extra specs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from slm_deploy.policies import check_bundle
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.writer import write_bundle
from tests.render.kubernetes_cases import (
    CASES, CRD_KINDS, SPECS_DIR, all_containers, case_id, deployment_of, kubernetes_files, objects,
    pod_templates, write_folder,
)
from tests.support import judges

GOLDEN = Path(__file__).parent / "kubernetes_golden"
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
                      "projected", "secret"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
BUILT = re.compile(r":src-[0-9a-f]{16}$")


SECRET_STORE_KINDS = ("secrets-store.csi.x-k8s.io/v1/SecretProviderClass", "external-secrets.io/v1/ExternalSecret",
                      "external-secrets.io/v1/SecretStore", "external-secrets.io/v1/ClusterSecretStore")
"""Validated against their vendored CRD schemas in tests/secret_stores/test_crd_schemas.py."""
ISSUER_KINDS = ("cert-manager.io/v1/ClusterIssuer",)
"""The ClusterIssuer of kubernetes/cluster/; validated against cert-manager's CRD in test_cluster_issuer_schema.py."""


def write_workload_identity_env(folder: Path) -> list[tuple[str, str]]:
    """Write the client-id file an operator writes when the kustomization generates from one; the ConfigMaps made."""
    config = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    made = []
    for generator in config.get("configMapGenerator", []):
        for env in generator.get("envs", []):
            (folder / env).write_text("clientID=11111111-2222-3333-4444-555555555555\n", encoding="utf-8")
        made.append(("ConfigMap", generator["name"]))
    return made


@pytest.fixture(scope="module", params=CASES, ids=case_id)
def case(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_the_cases_cover_every_runtime_and_exposure() -> None:
    kinds = {deployment_of(c).spec.runtime.kind for c in CASES}
    assert {"vllm", "llamacpp", "ollama", "onnxruntime"} <= kinds
    assert {deployment_of(c).spec.exposure.mode for c in CASES} == {"none", "internal", "ingress"}
    assert any(deployment_of(c).spec.resources.gpu and deployment_of(c).spec.runtime.kind == "llamacpp" for c in CASES)


@pytest.mark.parametrize("version", ["1.30", "1.34"])
def test_every_object_validates_strictly(case: Path, version: str, tmp_path: Path) -> None:
    folder = write_folder(case, tmp_path)
    findings = judges.kubernetes_validate([folder], version, custom_kinds=[*CRD_KINDS, *SECRET_STORE_KINDS, *ISSUER_KINDS])
    assert findings == [], judges.describe(findings)


def test_kustomize_builds_every_listed_object(case: Path, tmp_path: Path) -> None:
    folder = write_folder(case, tmp_path)
    generated = write_workload_identity_env(folder)
    built = judges.kustomize_build(folder)
    expected = sorted([(o["kind"], o["metadata"]["name"]) for o in objects(case, folder="")] + generated)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in built) == expected
    names = {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
    assert len(names) == len(expected) - len(generated), "one object per file"


def test_trivy_reports_nothing_high_or_critical(case: Path, tmp_path: Path) -> None:
    findings = judges.trivy_config(write_folder(case, tmp_path))
    assert findings == [], judges.describe(findings)


def test_the_bundle_passes_the_policy_pack(case: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(deployment_of(case)), bundle)
    report = check_bundle(bundle)
    kubernetes = [f for f in report.findings if f.rule.startswith(("slm-k8s-", "slm-serving-"))]
    assert kubernetes == [], "\n".join(f"{f.rule} {f.resource} {f.location}: {f.message}" for f in kubernetes)
    assert {n for n in kubernetes_files(case) if not n.endswith("/kustomization.yaml")} <= set(report.checked)


# --- Pod Security restricted, control by control, on every pod template -----------------------------------


def templates(case: Path) -> list[tuple[str, dict]]:
    found = pod_templates(case)
    assert found, "every Kubernetes case renders workloads"
    return found


def test_host_namespaces_are_off(case: Path) -> None:
    for where, template in templates(case):
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            assert template["spec"].get(field) in (None, False), (where, field)
        # hostUsers is the other way round: true shares the host's user namespace. Pod Security leaves it
        # unset (the kubelet's default); a pod template must never ask for the host's namespace explicitly.
        assert template["spec"].get("hostUsers") in (None, False), (where, "hostUsers")


def test_no_container_is_privileged_or_escalates(case: Path) -> None:
    for where, template in templates(case):
        for c in all_containers(template["spec"]):
            assert c["securityContext"]["privileged"] is False, (where, c["name"])
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, (where, c["name"])


def test_every_capability_is_dropped(case: Path) -> None:
    for where, template in templates(case):
        for c in all_containers(template["spec"]):
            capabilities = c["securityContext"]["capabilities"]
            assert capabilities["drop"] == ["ALL"] and not capabilities.get("add"), (where, c["name"])


def test_pods_and_containers_run_as_the_spec_s_non_root_ids(case: Path) -> None:
    security = deployment_of(case).spec.security
    for where, template in templates(case):
        pod = template["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == security.uid >= 10001, where
        assert pod["runAsGroup"] == security.gid >= 10001 and pod["fsGroup"] == security.gid, where
        assert 0 not in pod.get("supplementalGroups", []), where
        for c in all_containers(template["spec"]):
            context = c["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] == security.uid, (where, c["name"])


def test_seccomp_is_runtime_default_at_pod_and_container_level(case: Path) -> None:
    for where, template in templates(case):
        assert template["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for c in all_containers(template["spec"]):
            assert c["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, (where, c["name"])


def test_root_filesystems_are_read_only_and_writable_paths_are_volumes(case: Path) -> None:
    for where, template in templates(case):
        declared = {v["name"] for v in template["spec"]["volumes"]}
        for c in all_containers(template["spec"]):
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (where, c["name"])
            assert "/tmp" in {m["mountPath"] for m in c["volumeMounts"]}, (where, c["name"])
            assert {m["name"] for m in c["volumeMounts"]} <= declared, (where, c["name"])


def test_volumes_are_restricted_kinds_only(case: Path) -> None:
    for where, template in templates(case):
        for volume in template["spec"]["volumes"]:
            kinds = set(volume) - {"name"}
            assert len(kinds) == 1 and kinds <= RESTRICTED_VOLUMES, (where, volume)


def test_no_host_ports_host_probes_or_host_aliases(case: Path) -> None:
    for where, template in templates(case):
        assert "hostAliases" not in template["spec"], where
        for c in all_containers(template["spec"]):
            assert all("hostPort" not in p for p in c.get("ports", [])), (where, c["name"])
            handlers = [c.get(p) for p in ("startupProbe", "readinessProbe", "livenessProbe") if c.get(p)]
            handlers += list((c.get("lifecycle") or {}).values())
            for handler in handlers:
                for action in ("httpGet", "tcpSocket"):
                    assert "host" not in handler.get(action, {}), (where, c["name"])


def test_no_selinux_procmount_sysctls_apparmor_or_host_process(case: Path) -> None:
    for where, template in templates(case):
        pod = template["spec"]["securityContext"]
        assert not {"seLinuxOptions", "sysctls", "appArmorProfile", "windowsOptions"} & set(pod), where
        for c in all_containers(template["spec"]):
            assert not {"seLinuxOptions", "procMount", "appArmorProfile", "windowsOptions"} & set(c["securityContext"])


def test_requests_and_limits_on_every_container(case: Path) -> None:
    for where, template in templates(case):
        for c in all_containers(template["spec"]):
            for side in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][side]), (where, c["name"], side)


def test_own_service_account_without_a_token(case: Path) -> None:
    name = deployment_of(case).spec.name
    (account,) = [o for o in objects(case) if o["kind"] == "ServiceAccount"]
    assert account["automountServiceAccountToken"] is False and account["metadata"]["name"] == name
    for where, template in templates(case):
        assert template["spec"]["serviceAccountName"] == name != "default", where
        assert template["spec"]["automountServiceAccountToken"] is False, where


def test_images_are_pinned_and_always_pulled(case: Path) -> None:
    for where, template in templates(case):
        for c in all_containers(template["spec"]):
            assert c["imagePullPolicy"] == "Always", (where, c["name"])
            assert DIGEST.search(c["image"]) or BUILT.search(c["image"]), (where, c["image"])
            assert ":latest" not in c["image"]


def test_the_namespace_enforces_restricted_with_versions(case: Path) -> None:
    (namespace,) = [o for o in objects(case) if o["kind"] == "Namespace"]
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert re.fullmatch(r"v1\.[0-9]+", labels[f"pod-security.kubernetes.io/{mode}-version"])
    for obj in objects(case):
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace["metadata"]["name"], obj["metadata"]["name"]


def test_quota_covers_every_workload_at_its_largest(case: Path) -> None:
    from slm_deploy.spec.quantity import parse_bytes

    (quota,) = [o for o in objects(case) if o["kind"] == "ResourceQuota"]
    (limits,) = [o for o in objects(case) if o["kind"] == "LimitRange"]
    hard = quota["spec"]["hard"]
    assert hard["services.loadbalancers"] == "0" and hard["services.nodeports"] == "0"
    ceiling = limits["spec"]["limits"][0]["max"]
    for where, template in templates(case):
        for c in all_containers(template["spec"]):
            assert parse_bytes(c["resources"]["limits"]["memory"]) <= parse_bytes(ceiling["memory"]), where
            assert parse_bytes(c["resources"]["limits"]["memory"]) <= parse_bytes(hard["limits.memory"]), where
    gpus = sum(c["resources"]["limits"].get("nvidia.com/gpu", 0) for _, t in templates(case)
               for c in t["spec"]["containers"])
    assert int(hard["requests.nvidia.com/gpu"]) >= gpus


# --- golden files for the extra specs (the example stacks' folders are in tests/golden) --------------------


@pytest.mark.parametrize("spec", sorted(SPECS_DIR.glob("*.yaml")), ids=case_id)
def test_kubernetes_folder_matches_golden(spec: Path, update_golden: bool) -> None:
    files = kubernetes_files(spec)
    golden = GOLDEN / case_id(spec)
    if update_golden:
        for old in golden.rglob("*"):
            if old.is_file():
                old.unlink()
        for name, text in files.items():
            (golden / name.removeprefix("kubernetes/")).parent.mkdir(parents=True, exist_ok=True)
            (golden / name.removeprefix("kubernetes/")).write_text(text, encoding="utf-8")
    expected = {p.relative_to(golden).as_posix(): p.read_text(encoding="utf-8") for p in sorted(golden.rglob("*.yaml"))}
    assert sorted(expected) == sorted(n.removeprefix("kubernetes/") for n in files), "run --update-golden and review"
    for name, text in files.items():
        assert text == expected[name.removeprefix("kubernetes/")], f"{name} differs; run --update-golden and review"
