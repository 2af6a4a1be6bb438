"""One failing mutation (at least) per control of every rule, applied to a compliant fixture."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

P = ("spec", "template", "spec")
C = P + ("containers", 0)
SC = C + ("securityContext",)
PSC = P + ("securityContext",)


@dataclass(frozen=True)
class Mutation:
    """Change one thing in a compliant fixture so that `rule` must report it."""

    rule: str
    control: str
    fixture: str
    what: str
    apply: Callable[[Any], Any]
    config: dict[str, Any] = field(default_factory=dict)
    """Policy config the rule runs with (the unmutated fixture must pass under it)."""
    expect: str = ""
    """Words the report must contain, so the mutation proves the branch it was written for."""

    @property
    def id(self) -> str:
        """Readable pytest id."""
        return f"{self.rule}:{self.what}"


def _parent(obj, path):
    """The container of the last path step, creating mappings on the way."""
    for step in path[:-1]:
        if isinstance(step, int):
            obj = obj[step]
        else:
            obj = obj.setdefault(step, {})
    return obj


def set_(path, value):
    """Set a field."""
    def apply(obj):
        _parent(obj, path)[path[-1]] = value
    return apply


def drop(path):
    """Remove a field."""
    def apply(obj):
        del _parent(obj, path)[path[-1]]
    return apply


def append(path, value):
    """Append to a list field (created when missing)."""
    def apply(obj):
        _parent(obj, path).setdefault(path[-1], []).append(value)
    return apply


def sub(old, new):
    """Replace text in a Dockerfile; the old text must be there, so a stale mutation fails loudly."""
    def apply(text):
        assert old in text, f"mutation target not found: {old!r}"
        return text.replace(old, new, 1)
    return apply


def edit_text(path, old, new):
    """Replace text inside a string field (a config file carried in a ConfigMap); the old text must be there."""
    def apply(obj):
        parent = _parent(obj, path)
        parent[path[-1]] = sub(old, new)(parent[path[-1]])
    return apply


def script_adds(line):
    """Append a line to a host install script."""
    def apply(obj):
        obj["script"] += f"\n{line}\n"
    return apply


def both(*fns):
    """Apply several changes as one mutation."""
    def apply(obj):
        for fn in fns:
            result = fn(obj)
            obj = result if result is not None else obj
        return obj
    return apply


def chain_text(*fns):
    """Apply several text substitutions."""
    def apply(text):
        for fn in fns:
            text = fn(text)
        return text
    return apply


V = "dockerfile-vllm"
L = "dockerfile-llamacpp"
MPG = "dockerfile-model-prep-gguf"
D = "deployment-vllm"
DP = "deployment-vllm-patch"
DL = "deployment-llamacpp"
KU = "kustomization"
NPR = "networkpolicy-runtime-ingress"
NPD = "networkpolicy-model-prep-egress"
NPX = "networkpolicy-egress-proxy-egress"
CM = "configmap-monitoring"
SENTINEL_VALUE = "s3cr3t-sentinel-never-printed"
CO = "compose"
HL = "host-edge-linux-install-sh"
HW = "host-edge-windows-install-ps1"
MI = "host-mlx-mac-install-sh"
MS = "host-mlx-mac-serve-sh"
MP = "host-mlx-mac-prepare-sh"
MR = "host-mlx-mac-requirements-txt"
SQ = "squid-llamacpp-egress-proxy"
SQC = ("config",)
SV = ("services", "vllm")
SG = ("services", "gateway")
SD = ("services", "llamacpp-model-prep")
SL = ("services", "llamacpp")
SX = ("services", "llamacpp-egress-proxy")
HOSTILE_ENV = {"name": "HF_TOKEN", "value": SENTINEL_VALUE}
JP = "job-model-prep"
CONVERT = P + ("initContainers", 1)
SCONV = ("services", "tiny-model-prep")

MUTATIONS: list[Mutation] = [
    # Dockerfile
    Mutation("slm-docker-001", "D1", V, "no USER", sub("USER 10001:10001\n", "")),
    Mutation("slm-docker-001", "D1", V, "root user", sub("USER 10001:10001", "USER root")),
    Mutation("slm-docker-001", "D1", V, "low uid", sub("USER 10001:10001", "USER 1000:1000")),
    Mutation("slm-docker-001", "D1", V, "named user", sub("USER 10001:10001", "USER app")),
    Mutation("slm-docker-001", "D1", V, "user not created", sub("useradd --no-log-init -u 10001", "useradd --no-log-init -u 10002")),
    Mutation("slm-docker-001", "D1", V, "useradd without -l", sub("useradd --no-log-init", "useradd")),
    Mutation("slm-docker-002", "D2", V, "no digest", sub("slim-bookworm@sha256:" + "1" * 64 + " AS runtime", "slim-bookworm AS runtime")),
    Mutation("slm-docker-002", "D2", L, "latest tag", sub("llama.cpp:server-b6000@", "llama.cpp:latest@")),
    Mutation("slm-docker-002", "D2", L, "build arg base", sub("FROM ghcr.io", "ARG BASE\nFROM ${BASE}\nFROM ghcr.io")),
    Mutation("slm-docker-002", "D2", L, "malformed digest", sub("b6000@sha256:" + "1" * 64, "b6000@sha256:" + "1" * 63),
             expect="by @sha256 digest"),
    Mutation("slm-docker-002", "D2", L, "untrusted registry", sub("FROM ghcr.io/", "FROM quay.io/"),
             config={"trustedRegistries": ["ghcr.io"]}, expect="not in trustedRegistries"),
    Mutation("slm-docker-003", "D3", V, "no healthcheck", sub("HEALTHCHECK --interval=30s --timeout=5s CMD", "LABEL x=y\n#")),
    Mutation("slm-docker-003", "D3", L, "shell form", sub('HEALTHCHECK CMD ["curl", "-fsS", "http://127.0.0.1:8080/health"]', "HEALTHCHECK CMD curl -f http://127.0.0.1:8080/health")),
    Mutation("slm-docker-003", "D3", L, "healthcheck none", sub('HEALTHCHECK CMD ["curl", "-fsS", "http://127.0.0.1:8080/health"]', "HEALTHCHECK NONE")),
    Mutation("slm-docker-004", "D4", V, "ADD", sub("COPY --from=build", "ADD --chown=1:1")),
    Mutation("slm-docker-004", "D4", V, "copy from own stage", sub("COPY --from=build", "COPY --from=runtime")),
    Mutation("slm-docker-004", "D4", V, "duplicate alias", sub("AS runtime", "AS build")),
    Mutation("slm-docker-004", "D4", V, "several sources to a path without /", sub("WORKDIR /build", "WORKDIR /build\nCOPY a.txt b.txt /build")),
    Mutation("slm-docker-005", "D5", V, "ENV token", sub("ENV HF_HOME=/cache/hf", "ENV HF_HOME=/cache/hf HF_TOKEN=")),
    Mutation("slm-docker-005", "D5", V, "ARG api key", sub("WORKDIR /app", "ARG VLLM_API_KEY\nWORKDIR /app")),
    Mutation("slm-docker-005", "D5", V, "copy .env", sub("WORKDIR /app", "WORKDIR /app\nCOPY .env /app/.env")),
    Mutation("slm-docker-006", "D6", V, "update alone", sub("RUN apt-get update \\\n && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 \\\n && rm -rf /var/lib/apt/lists/*", "RUN apt-get update")),
    Mutation("slm-docker-006", "D6", V, "no -y", sub("install -y --no", "install --no")),
    Mutation("slm-docker-006", "D6", V, "recommends", sub("--no-install-recommends ", "")),
    Mutation("slm-docker-006", "D6", V, "lists kept", sub(" \\\n && rm -rf /var/lib/apt/lists/*", "")),
    Mutation("slm-docker-006", "D6", V, "pip cache", sub("pip install --no-cache-dir", "pip install")),
    Mutation("slm-docker-006", "D6", V, "apt", sub("apt-get install", "apt install")),
    Mutation("slm-docker-006", "D6", V, "apk cache", sub("WORKDIR /build", "WORKDIR /build\nRUN apk add curl")),
    Mutation("slm-docker-006", "D6", V, "dist-upgrade", sub("WORKDIR /build", "WORKDIR /build\nRUN apt-get -y dist-upgrade")),
    Mutation("slm-docker-007", "D7", V, "sudo", sub("WORKDIR /app", "RUN sudo true\nWORKDIR /app")),
    Mutation("slm-docker-007", "D7", V, "curl -k", sub("WORKDIR /build", "WORKDIR /build\nRUN curl -k -o /x https://example.org/x")),
    Mutation("slm-docker-007", "D7", V, "trusted host", sub("pip install --no-cache-dir", "pip install --no-cache-dir --trusted-host pypi.org")),
    Mutation("slm-docker-007", "D7", V, "PYTHONHTTPSVERIFY", sub("ENV HF_HOME=/cache/hf", "ENV PYTHONHTTPSVERIFY=0 HF_HOME=/cache/hf")),
    Mutation("slm-docker-007", "D7", V, "chpasswd", sub("WORKDIR /app", "RUN echo app:x | chpasswd\nWORKDIR /app")),
    Mutation("slm-docker-008", "D8", V, "ssh", sub("EXPOSE 8000", "EXPOSE 8000 22")),
    Mutation("slm-docker-008", "D8", V, "privileged port", sub("EXPOSE 8000", "EXPOSE 80")),
    Mutation("slm-docker-008", "D8", V, "invalid port", sub("EXPOSE 8000", "EXPOSE 70000")),
    Mutation("slm-docker-009", "D9", V, "relative workdir", sub("WORKDIR /app", "WORKDIR app")),
    Mutation("slm-docker-009", "D9", V, "system workdir", sub("WORKDIR /app", "WORKDIR /usr/bin")),
    Mutation("slm-docker-009", "D9", V, "run cd", sub("WORKDIR /app", "RUN cd /tmp && true\nWORKDIR /app")),
    Mutation("slm-docker-010", "D10", V, "shell cmd", sub('CMD ["--model", "/models/phi-4-mini", "--port", "8000"]', "CMD python -m vllm.entrypoints.openai.api_server")),
    Mutation("slm-docker-010", "D10", V, "two entrypoints", sub("CMD [", 'ENTRYPOINT ["x"]\nCMD [')),
    Mutation("slm-docker-010", "D10", V, "maintainer", sub("LABEL org", "MAINTAINER someone\nLABEL org")),
    Mutation("slm-docker-010", "D10", V, "pipe without pipefail", chain_text(sub('SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nLABEL', "LABEL"), sub("WORKDIR /app", "RUN echo hi | tee /tmp/x\nWORKDIR /app"))),
    Mutation("slm-docker-010", "D10", L, "no entrypoint", chain_text(sub('ENTRYPOINT ["/app/llama-server"]\n', ""), sub('CMD ["-m"', 'LABEL a=b\n# ["-m"'))),
    Mutation("slm-docker-011", "D11", V, "setuid kept", sub(" \\\n && find / -xdev -perm /6000 -type f -exec chmod a-s {} + || true", "")),
    Mutation("slm-docker-012", "D12", MPG, "llama.cpp source unchecked",
             sub(' \\\n && echo "a119af7afa23558673395fdf50ec81b57abe1d5afacdb9e58f18fb5200fe7d75  /tmp/llama.cpp.tar.gz" | sha256sum -c -', ""),
             expect="fixed sha256"),
    Mutation("slm-docker-012", "D12", MPG, "lock without hashes", sub("--require-hashes --no-deps", "--no-deps"),
             expect="--require-hashes"),
    Mutation("slm-docker-012", "D12", MPG, "torch unpinned", sub('--index-url "$TORCH_INDEX" torch==2.13.0', '--index-url "$TORCH_INDEX" torch'),
             expect="torch without an exact version"),
    # Kubernetes workloads
    Mutation("slm-k8s-001", "K1", D, "hostNetwork", set_(P + ("hostNetwork",), True)),
    Mutation("slm-k8s-001", "K1", D, "hostPID", set_(P + ("hostPID",), True)),
    Mutation("slm-k8s-001", "K1", DP, "hostIPC patch", set_(P + ("hostIPC",), True)),
    Mutation("slm-k8s-002", "K2", D, "privileged", set_(SC + ("privileged",), True)),
    Mutation("slm-k8s-002", "K2", DL, "privileged init", set_(P + ("initContainers", 0, "securityContext", "privileged"), True)),
    Mutation("slm-k8s-002", "K2", DP, "privileged patch", set_(SC + ("privileged",), True)),
    Mutation("slm-k8s-003", "K3", D, "escalation missing", drop(SC + ("allowPrivilegeEscalation",))),
    Mutation("slm-k8s-003", "K3", DP, "escalation true patch", set_(SC + ("allowPrivilegeEscalation",), True)),
    Mutation("slm-k8s-004", "K4", D, "no drop", drop(SC + ("capabilities",))),
    Mutation("slm-k8s-004", "K4", D, "add SYS_ADMIN", set_(SC + ("capabilities", "add"), ["SYS_ADMIN"])),
    Mutation("slm-k8s-004", "K4", DP, "add NET_RAW patch", set_(SC + ("capabilities", "add"), ["NET_RAW"])),
    Mutation("slm-k8s-005", "K5", D, "runAsNonRoot missing", drop(PSC + ("runAsNonRoot",))),
    Mutation("slm-k8s-005", "K5", D, "root uid", set_(SC + ("runAsUser",), 0)),
    Mutation("slm-k8s-005", "K5", D, "low gid", set_(PSC + ("runAsGroup",), 1000)),
    Mutation("slm-k8s-005", "K5", D, "no fsGroup", drop(PSC + ("fsGroup",))),
    Mutation("slm-k8s-005", "K5", D, "group 0", set_(PSC + ("supplementalGroups",), [0])),
    Mutation("slm-k8s-005", "K5", DP, "runAsUser 0 patch", set_(PSC + ("runAsUser",), 0)),
    Mutation("slm-k8s-006", "K6", D, "no pod seccomp", drop(PSC + ("seccompProfile",))),
    Mutation("slm-k8s-006", "K6", D, "unconfined", set_(SC + ("seccompProfile",), {"type": "Unconfined"})),
    Mutation("slm-k8s-006", "K6", DP, "unconfined patch", set_(PSC + ("seccompProfile",), {"type": "Unconfined"})),
    Mutation("slm-k8s-007", "K7", D, "writable root", set_(SC + ("readOnlyRootFilesystem",), False)),
    Mutation("slm-k8s-007", "K7", DL, "init writable root", drop(P + ("initContainers", 0, "securityContext", "readOnlyRootFilesystem"))),
    Mutation("slm-k8s-008", "K8", D, "hostPath", append(P + ("volumes",), {"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}})),
    Mutation("slm-k8s-008", "K8", D, "nfs", append(P + ("volumes",), {"name": "nfs", "nfs": {"server": "x", "path": "/"}})),
    Mutation("slm-k8s-009", "K9", D, "hostPort", set_(C + ("ports", 0, "hostPort"), 8000)),
    Mutation("slm-k8s-009", "K9", D, "probe host", set_(C + ("livenessProbe", "httpGet", "host"), "10.0.0.1")),
    Mutation("slm-k8s-009", "K9", D, "hostAliases", set_(P + ("hostAliases",), [{"ip": "1.2.3.4", "hostnames": ["x"]}])),
    Mutation("slm-k8s-010", "K10", D, "selinux user", set_(SC + ("seLinuxOptions",), {"user": "system_u"})),
    Mutation("slm-k8s-010", "K10", D, "procMount", set_(SC + ("procMount",), "Unmasked")),
    Mutation("slm-k8s-010", "K10", D, "unsafe sysctl", set_(PSC + ("sysctls",), [{"name": "kernel.msgmax", "value": "1"}])),
    Mutation("slm-k8s-010", "K10", D, "apparmor unconfined", set_(SC + ("appArmorProfile",), {"type": "Unconfined"})),
    Mutation("slm-k8s-010", "K10", D, "apparmor annotation", set_(P[:-1] + ("metadata", "annotations"), {"container.apparmor.security.beta.kubernetes.io/vllm": "unconfined"})),
    Mutation("slm-k8s-010", "K10", D, "hostProcess", set_(SC + ("windowsOptions",), {"hostProcess": True})),
    Mutation("slm-k8s-011", "K11", D, "no memory limit", drop(C + ("resources", "limits", "memory"))),
    Mutation("slm-k8s-011", "K11", DL, "init no requests", drop(P + ("initContainers", 0, "resources", "requests"))),
    Mutation("slm-k8s-012", "K12", D, "pull if not present", set_(C + ("imagePullPolicy",), "IfNotPresent")),
    Mutation("slm-k8s-012", "K12", D, "untrusted registry",
             set_(C + ("image",), "quay.io/vllm/vllm-openai:v0.11.0@sha256:" + "1" * 64),
             config={"trustedRegistries": ["docker.io"]}, expect="not in trustedRegistries"),
    Mutation("slm-k8s-013", "K13", D, "token valid for ten years",
             append(P + ("volumes",), {"name": "api-token", "projected": {"sources": [
                 {"serviceAccountToken": {"path": "token", "expirationSeconds": 315360000}}]}}),
             expect="API token valid for more than 3600 seconds"),
    Mutation("slm-k8s-013", "K13", D, "default sa", drop(P + ("serviceAccountName",))),
    Mutation("slm-k8s-013", "K13", D, "automount", set_(P + ("automountServiceAccountToken",), True)),
    Mutation("slm-k8s-013", "K13", DP, "default sa patch", set_(P + ("serviceAccountName",), "default")),
    Mutation("slm-k8s-014", "K14", "namespace", "baseline", set_(("metadata", "labels", "pod-security.kubernetes.io/enforce"), "baseline")),
    Mutation("slm-k8s-014", "K14", "namespace", "no version", drop(("metadata", "labels", "pod-security.kubernetes.io/enforce-version"))),
    Mutation("slm-k8s-014", "K14", "namespace", "default ns", set_(("metadata", "name"), "default")),
    Mutation("slm-k8s-014", "K14", "namespace", "kube- prefix", set_(("metadata", "name"), "kube-team")),
    Mutation("slm-k8s-015", "K15", "networkpolicy-default-deny", "allows ingress", set_(("spec", "ingress"), [{}])),
    Mutation("slm-k8s-015", "K15", "networkpolicy-default-deny", "ingress only", set_(("spec", "policyTypes"), ["Ingress"])),
    Mutation("slm-k8s-015", "K15", NPR, "runtime admits every namespace",
             append(("spec", "ingress"), {"from": [{"namespaceSelector": {}}]}), expect="ingress[1] admits pods of every"),
    Mutation("slm-k8s-015", "K15", NPR, "runtime admits everything", set_(("spec", "ingress"), [{}]),
             expect="ingress[0] admits pods of every"),
    Mutation("slm-k8s-015", "K15", NPR, "runtime admits labelled pods of every namespace",
             set_(("spec", "ingress", 0, "from", 1, "namespaceSelector"), {}), expect="ingress[0] admits pods of every"),
    Mutation("slm-k8s-015", "K15", NPR, "egress to every namespace",
             append(("spec", "egress"), {"to": [{"namespaceSelector": {}}]}), expect="egress[1] reaches pods of every"),
    Mutation("slm-k8s-015", "K15", NPR, "egress to everything", set_(("spec", "egress"), [{}]),
             expect="egress[0] reaches pods of every"),
    Mutation("slm-k8s-015", "K15", "networkpolicy-gateway-ingress", "open egress from the gateway",
             both(set_(("spec", "policyTypes"), ["Ingress", "Egress"]), set_(("spec", "egress"), [{"ports": [{"port": 443}]}])),
             expect="egress[0] reaches pods of every"),
    Mutation("slm-k8s-026", "K26", NPD, "download egress to every public address",
             set_(("spec", "egress", 0, "to"), [{"ipBlock": {"cidr": "0.0.0.0/0"}}]), expect="address range directly"),
    Mutation("slm-k8s-026", "K26", NPD, "download egress beside the proxy",
             append(("spec", "egress"), {"to": [{"ipBlock": {"cidr": "::/0"}}], "ports": [{"port": 443}]}),
             expect="egress[1] lets model-download pods reach an address range"),
    Mutation("slm-k8s-026", "K26", NPD, "download egress without peers", set_(("spec", "egress"), [{"ports": [{"port": 443}]}]),
             expect="reach every address"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy policy loses the component from its selector",
             drop(("spec", "podSelector", "matchLabels", "app.kubernetes.io/component")),
             expect="egress[0] lets pods other than the egress proxy reach public addresses"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy policy copied for the runtime pods",
             set_(("spec", "podSelector", "matchLabels", "app.kubernetes.io/component"), "runtime"),
             expect="pods other than the egress proxy"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy policy selects every pod",
             set_(("spec", "podSelector"), {}), expect="pods other than the egress proxy"),
    Mutation("slm-k8s-027", "K27", "networkpolicy-gateway-ingress", "gateway reaches one public range",
             both(set_(("spec", "policyTypes"), ["Ingress", "Egress"]),
                  set_(("spec", "egress"), [{"to": [{"ipBlock": {"cidr": "20.0.0.0/8"}}], "ports": [{"port": 443}]}])),
             expect="pods other than the egress proxy"),
    Mutation("slm-k8s-027", "K27", "networkpolicy-gateway-ingress", "gateway reaches an unparsable range",
             both(set_(("spec", "policyTypes"), ["Ingress", "Egress"]),
                  set_(("spec", "egress"), [{"to": [{"ipBlock": {"cidr": "0/0"}}], "ports": [{"port": 443}]}])),
             expect="pods other than the egress proxy"),
    Mutation("slm-k8s-027", "K27", NPX, "kube-state-metrics reaches the internet on every port",
             both(set_(("spec", "podSelector", "matchLabels", "app.kubernetes.io/component"), "kube-state-metrics"),
                  drop(("spec", "egress", 0, "ports"))),
             expect="pods other than the egress proxy"),
    Mutation("slm-k8s-027", "K27", NPX, "Prometheus reaches the internet beyond the API server's ports",
             both(set_(("spec", "podSelector", "matchLabels", "app.kubernetes.io/component"), "prometheus"),
                  set_(("spec", "egress", 0, "ports"), [{"protocol": "TCP", "port": 6443}, {"protocol": "TCP", "port": 80}])),
             expect="pods other than the egress proxy"),
    Mutation("slm-k8s-027", "K27", NPX, "Alertmanager reaches the internet on two ports",
             both(set_(("spec", "podSelector", "matchLabels", "app.kubernetes.io/component"), "alertmanager"),
                  set_(("spec", "egress", 0, "ports"), [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 25}])),
             expect="pods other than the egress proxy"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy egress on every port", drop(("spec", "egress", 0, "ports")),
             expect="ports other than TCP 443 only"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy egress on port 80 too",
             append(("spec", "egress", 0, "ports"), {"protocol": "TCP", "port": 80}), expect="ports other than TCP 443"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy egress over UDP",
             set_(("spec", "egress", 0, "ports"), [{"protocol": "UDP", "port": 443}]), expect="ports other than TCP 443"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy egress on a port range",
             set_(("spec", "egress", 0, "ports"), [{"protocol": "TCP", "port": 443, "endPort": 8443}]),
             expect="ports other than TCP 443"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy reaches the cloud metadata range",
             set_(("spec", "egress", 0, "to", 0, "ipBlock", "except"), ["10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12",
                                                                         "192.168.0.0/16"]),
             expect="reach 169.254.0.0/16"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy reaches IPv6 private addresses",
             drop(("spec", "egress", 0, "to", 1, "ipBlock", "except")), expect="reach fc00::/7"),
    Mutation("slm-k8s-027", "K27", NPX, "proxy reaches the cluster's private range directly",
             append(("spec", "egress", 0, "to"), {"ipBlock": {"cidr": "10.1.0.0/16"}}), expect="reach 10.0.0.0/8"),
    Mutation("slm-k8s-026", "K26", "networkpolicy-default-deny", "address range opened for every pod",
             set_(("spec", "egress"), [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]), expect="address range directly"),
    Mutation("slm-k8s-016", "K16", CM, "grafana admin password inline",
             edit_text(("data", "grafana.ini"), "$__file{/run/secrets/grafana-admin-password}", SENTINEL_VALUE),
             expect="[security] admin_password holds a literal credential"),
    Mutation("slm-k8s-016", "K16", CM, "grafana secret key inline",
             edit_text(("data", "grafana.ini"), "disable_gravatar = true", f"secret_key = {SENTINEL_VALUE}"),
             expect="[security] secret_key"),
    Mutation("slm-k8s-016", "K16", CM, "alertmanager bearer credentials inline",
             edit_text(("data", "alertmanager.yml"), "credentials_file: /run/secrets/am-token", f"credentials: {SENTINEL_VALUE}"),
             expect="authorization.credentials holds a literal credential"),
    Mutation("slm-k8s-016", "K16", CM, "alertmanager basic auth password inline",
             edit_text(("data", "alertmanager.yml"), "      authorization:\n        type: Bearer\n        credentials_file: /run/secrets/am-token",
                       f"      basic_auth:\n        username: am\n        password: {SENTINEL_VALUE}"),
             expect="basic_auth.password"),
    Mutation("slm-k8s-016", "K16", CM, "slack api_url inline",
             edit_text(("data", "alertmanager.yml"), "api_url_file: /run/secrets/slack-url",
                       "api_url: https://hooks.slack.com/services/T000/B000/" + SENTINEL_VALUE),
             expect="slack_configs[0].api_url holds a literal credential"),
    Mutation("slm-k8s-016", "K16", CM, "slack hook as webhook url",
             edit_text(("data", "alertmanager.yml"), "url: https://hooks.example.com/alert",
                       "url: https://hooks.slack.com/services/T000/B000/" + SENTINEL_VALUE),
             expect="webhook_configs[0].url is a URL that carries a credential"),
    Mutation("slm-k8s-016", "K16", CM, "prometheus bearer token inline",
             edit_text(("data", "prometheus.yml"), "credentials_file: /run/secrets/metrics-token", f"credentials: {SENTINEL_VALUE}"),
             expect="scrape_configs[0].authorization.credentials"),
    Mutation("slm-k8s-016", "K16", CM, "alertmanager.yml unreadable",
             edit_text(("data", "alertmanager.yml"), "route:", "route: [\n"), expect="not YAML the pack can read"),
    Mutation("slm-k8s-025", "K25", CM, "grafana anonymous access",
             edit_text(("data", "grafana.ini"), "[auth.anonymous]\nenabled = false", "[auth.anonymous]\nenabled = true\norg_role = Admin"),
             expect="[auth.anonymous] enabled"),
    Mutation("slm-k8s-025", "K25", D, "prometheus admin api", append(C + ("args",), "--web.enable-admin-api"),
             expect="--web.enable-admin-api"),
    Mutation("slm-k8s-025", "K25", D, "prometheus lifecycle", append(C + ("args",), "--web.enable-lifecycle=true"),
             expect="--web.enable-lifecycle"),
    Mutation("slm-k8s-016", "K16", D, "secretKeyRef", append(C + ("env",), {"name": "TOKEN_FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "t"}}})),
    Mutation("slm-k8s-016", "K16", D, "envFrom secret", set_(C + ("envFrom",), [{"secretRef": {"name": "hf"}}])),
    Mutation("slm-k8s-016", "K16", "configmap-gateway", "password key", set_(("data", "db_password"), "s3cr3t-sentinel-never-printed")),
    Mutation("slm-k8s-017", "K17", D, "no readiness", drop(C + ("readinessProbe",))),
    Mutation("slm-k8s-017", "K17", DL, "no liveness", drop(C + ("livenessProbe",))),
    Mutation("slm-k8s-018", "K18", DL, "no container securityContext", drop(C + ("securityContext",))),
    Mutation("slm-k8s-018", "K18", D, "no pod securityContext", drop(PSC)),
    Mutation("slm-k8s-019", "K19", "role", "wildcard verbs", set_(("rules", 0, "verbs"), ["*"])),
    Mutation("slm-k8s-019", "K19", "role", "pods exec", set_(("rules", 0, "resources"), ["pods/exec"])),
    Mutation("slm-k8s-019", "K19", "clusterrole", "cluster secrets", append(("rules",), {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})),
    Mutation("slm-k8s-019", "K19", "clusterrole", "escalate", append(("rules",), {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]})),
    Mutation("slm-k8s-019", "K19", "role", "manage RBAC", append(("rules",), {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]})),
    Mutation("slm-k8s-019", "K19", "clusterrole", "node proxy", append(("rules",), {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]})),
    Mutation("slm-k8s-019", "K19", "role", "namespace secrets", append(("rules",), {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}),
             expect="reads every Secret of the namespace"),
    Mutation("slm-k8s-019", "K19", "role", "secrets listed by name", append(("rules",), {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["hf"], "verbs": ["list"]}),
             expect="reads every Secret of the namespace"),
    Mutation("slm-k8s-019", "K19", "rolebinding", "cluster-admin", set_(("roleRef", "name"), "cluster-admin")),
    Mutation("slm-k8s-019", "K19", "rolebinding", "authenticated", append(("subjects",), {"kind": "Group", "name": "system:authenticated"})),
    Mutation("slm-k8s-020", "K20", "service-vllm", "load balancer", set_(("spec", "type"), "LoadBalancer")),
    Mutation("slm-k8s-020", "K20", "service-vllm", "external ips", set_(("spec", "externalIPs"), ["1.2.3.4"])),
    Mutation("slm-k8s-020", "K20", "ingress", "no tls", drop(("spec", "tls"))),
    Mutation("slm-k8s-021", "K11", "limitrange", "no limitrange", set_(("metadata", "namespace"), "elsewhere")),
    Mutation("slm-k8s-021", "K11", "resourcequota", "no quota", set_(("metadata", "namespace"), "elsewhere")),
    Mutation("slm-k8s-022", "K14", D, "no namespace", drop(("metadata", "namespace"))),
    Mutation("slm-k8s-023", "K12", "release-cert-manager", "controller by tag", drop(("values", "image", "digest"))),
    Mutation("slm-k8s-023", "K12", "release-cert-manager", "webhook digest not sha256",
             set_(("values", "webhook", "image", "digest"), "latest")),
    Mutation("slm-k8s-023", "K12", "release-cert-manager", "api check job by tag",
             set_(("values", "startupapicheck", "enabled"), True)),
    Mutation("slm-k8s-024", "K24", KU, "image swapped to another repository by tag",
             append(("images",), {"name": "ghcr.io/ggml-org/llama.cpp", "newName": "docker.io/evil/llama", "newTag": "latest"}),
             expect="newName"),
    Mutation("slm-k8s-024", "K24", KU, "image retagged", append(("images",), {"name": "grafana/grafana", "newTag": "11.0.0"}),
             expect="does not pin a sha256 digest"),
    Mutation("slm-k8s-024", "K24", KU, "image moved to another repository by digest",
             set_(("images", 0, "newName"), "docker.io/attacker/vllm"), expect="another repository"),
    Mutation("slm-k8s-024", "K24", KU, "patch adds hostNetwork",
             set_(("patches",), [{"target": {"kind": "Deployment"},
                                  "patch": "- op: add\n  path: /spec/template/spec/hostNetwork\n  value: true"}]),
             expect="patches"),
    Mutation("slm-k8s-024", "K24", KU, "strategic merge patch", set_(("patchesStrategicMerge",), ["host.yaml"]),
             expect="patchesStrategicMerge"),
    Mutation("slm-k8s-024", "K24", KU, "json6902 patch", set_(("patchesJson6902",), [{"path": "p.yaml"}]),
             expect="patchesJson6902"),
    Mutation("slm-k8s-024", "K24", KU, "component", set_(("components",), ["../evil"]), expect="components"),
    Mutation("slm-k8s-024", "K24", KU, "helm chart", set_(("helmCharts",), [{"name": "x", "repo": "https://x"}]),
             expect="helmCharts"),
    Mutation("slm-k8s-024", "K24", KU, "secret generator", set_(("secretGenerator",), [{"name": "s", "literals": ["a=b"]}]),
             expect="secretGenerator"),
    Mutation("slm-k8s-024", "K24", KU, "inline generator content",
             append(("configMapGenerator",), {"name": "x", "literals": ["grafana.ini=[security]"]}),
             expect="configMapGenerator[1]"),
    Mutation("slm-k8s-024", "K24", KU, "replacement into a pod spec",
             append(("replacements", 0, "targets"), {"select": {"kind": "Deployment"},
                                                    "fieldPaths": ["spec.template.spec.hostNetwork"]}),
             expect="replacements[0]"),
    Mutation("slm-k8s-024", "K24", KU, "remote base", append(("resources",), "https://github.com/evil/base"),
             expect="not a YAML file next to"),
    Mutation("slm-k8s-024", "K24", KU, "folder above", append(("resources",), "../other/deployment.yaml"),
             expect="not a YAML file next to"),
    Mutation("slm-k8s-024", "K24", KU, "labels added", set_(("labels",), [{"pairs": {"app": "gateway"}}]),
             expect="labels"),
    Mutation("slm-k8s-023", "K12", "release-cert-manager", "chart of unknown images",
             set_(("chart",), "kube-prometheus-stack")),
    Mutation("slm-k8s-022", "K14", "service-vllm", "default namespace", set_(("metadata", "namespace"), "default")),
    Mutation("slm-k8s-022", "K14", D, "a namespace in the kube- prefix", set_(("metadata", "namespace"), "kube-team")),
    Mutation("slm-k8s-022", "K14", D, "cert-manager's namespace", set_(("metadata", "namespace"), "cert-manager")),
    Mutation("slm-k8s-022", "K14", "networkpolicy-default-deny", "deny-all in the ingress controller's namespace",
             set_(("metadata", "namespace"), "ingress-nginx")),
    Mutation("slm-k8s-022", "K14", "resourcequota", "quota in KEDA's namespace", set_(("metadata", "namespace"), "keda")),
    Mutation("slm-k8s-022", "K14", D, "the device plugin's namespace without being the device plugin",
             set_(("metadata", "namespace"), "nvidia-device-plugin")),
    Mutation("slm-k8s-022", "K14", "networkpolicy-default-deny", "admits the monitoring stack from its own namespace",
             set_(("spec", "ingress"), [{"from": [{"namespaceSelector": {"matchLabels": {
                 "kubernetes.io/metadata.name": "llm"}}}]}])),
    # AKS
    Mutation("slm-aks-001", "A1", "managedcluster", "rbac off", set_(("enableRBAC",), False)),
    Mutation("slm-aks-001", "A1", "managedcluster", "local accounts", drop(("disableLocalAccounts",))),
    Mutation("slm-aks-001", "A1", "managedcluster", "no azure rbac", set_(("aadProfile", "enableAzureRBAC"), False)),
    Mutation("slm-aks-002", "A2", "managedcluster", "public api", set_(("apiServerAccessProfile",), {"enablePrivateCluster": False})),
    Mutation("slm-aks-002", "A2", "managedcluster", "open ranges", set_(("apiServerAccessProfile",), {"authorizedIPRanges": ["0.0.0.0/0"]})),
    Mutation("slm-aks-003", "A3", "managedcluster", "no network policy", drop(("networkProfile", "networkPolicy"))),
    Mutation("slm-aks-004", "A4", "managedcluster", "no azure policy", set_(("addonProfiles", "azurepolicy", "enabled"), False)),
    Mutation("slm-aks-005", "A5", "managedcluster", "no monitoring", both(drop(("azureMonitorProfile",)), drop(("addonProfiles", "omsagent")))),
    Mutation("slm-aks-006", "A6", "managedcluster", "no kms", drop(("securityProfile", "azureKeyVaultKms"))),
    Mutation("slm-aks-006", "A6", "managedcluster", "no des", drop(("diskEncryptionSetID",))),
    Mutation("slm-aks-006", "A6", "agentpool", "no host encryption", drop(("enableEncryptionAtHost",))),
    Mutation("slm-aks-007", "A7", "managedcluster", "no upgrades", set_(("autoUpgradeProfile", "upgradeChannel"), "none")),
    Mutation("slm-aks-007", "A7", "managedcluster", "dashboard", set_(("addonProfiles", "kubeDashboard"), {"enabled": True})),
    Mutation("slm-aks-007", "A7", "managedcluster", "untainted system pool", drop(("agentPoolProfiles", 0, "nodeTaints"))),
    Mutation("slm-aks-007", "A7", "agentpool", "public node ip", set_(("enableNodePublicIP",), True)),
    Mutation("slm-aks-008", "A8", "managedcluster", "no rotation", set_(("addonProfiles", "azureKeyvaultSecretsProvider", "config"), {})),
    Mutation("slm-aks-008", "A8", "managedcluster", "no workload identity", drop(("securityProfile", "workloadIdentity"))),
    Mutation("slm-aks-009", "A9", "managedcluster", "no defender", drop(("securityProfile", "defender"))),
    # Key Vault and secrets
    Mutation("slm-secrets-001", "KV-recovery", "vault", "no purge protection", drop(("properties", "enablePurgeProtection"))),
    Mutation("slm-secrets-001", "KV-recovery", "vault", "soft delete off", set_(("properties", "enableSoftDelete"), False)),
    Mutation("slm-secrets-002", "KV-network", "vault", "public", both(set_(("properties", "publicNetworkAccess"), "Enabled"), set_(("properties", "networkAcls", "defaultAction"), "Allow"))),
    Mutation("slm-secrets-003", "KV-rbac", "vault", "access policies", set_(("properties", "enableRbacAuthorization"), False)),
    Mutation("slm-secrets-004", "KV-secret-expiry", "kv-secret", "no expiry", drop(("properties", "attributes", "expires"))),
    Mutation("slm-secrets-004", "KV-secret-expiry", "kv-secret", "no content type", drop(("properties", "contentType"))),
    Mutation("slm-secrets-005", "KV-key-expiry", "kv-key", "no expiry", drop(("properties", "attributes", "expires"))),
    Mutation("slm-secrets-007", "KV-diagnostics", "diagnosticsetting", "no audit logs", set_(("logs",), [{"categoryGroup": "allLogs", "enabled": False}])),
    Mutation("slm-secrets-007", "KV-diagnostics", "diagnosticsetting", "metrics only", drop(("logs",))),
    Mutation("slm-secrets-007", "KV-diagnostics", "diagnosticsetting", "no destination", drop(("workspaceId",))),
    Mutation("slm-secrets-008", "KV-least-privilege", "roleassignment-kv-secret", "administrator role", set_(("roleDefinitionId",), "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/00482a5a-887f-4fb3-b363-3b7fe8e74483")),
    Mutation("slm-secrets-008", "KV-least-privilege", "roleassignment-kv-secret", "whole vault", set_(("scope",), "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-llm/providers/Microsoft.KeyVault/vaults/kv-llm")),
    Mutation("slm-secrets-009", "KV-workload-identity", "federatedidentitycredential", "foreign audience", set_(("audiences",), ["api://AzureADTokenExchange", "https://example.com"])),
    Mutation("slm-secrets-009", "KV-workload-identity", "federatedidentitycredential", "wildcard subject", set_(("subject",), "system:serviceaccount:llm:*")),
    Mutation("slm-secrets-009", "KV-workload-identity", "federatedidentitycredential", "http issuer", set_(("issuer",), "http://issuer.example.com/")),
    Mutation("slm-secrets-010", "KV-csi-mount", "secretproviderclass", "node identity", set_(("spec", "parameters", "useVMManagedIdentity"), "true")),
    Mutation("slm-secrets-010", "KV-csi-mount", "secretproviderclass", "pod identity", set_(("spec", "parameters", "usePodIdentity"), "true")),
    Mutation("slm-secrets-010", "KV-csi-mount", "secretproviderclass", "no tenant", drop(("spec", "parameters", "tenantId"))),
    Mutation("slm-secrets-010", "KV-csi-mount", "secretproviderclass", "synced to a Secret", set_(("spec", "secretObjects"), [{"secretName": "api-keys", "type": "Opaque", "data": [{"objectName": "api-keys", "key": "api-keys"}]}])),
    Mutation("slm-secrets-011", "ESO-store-auth", "secretstore-vault", "vault token in a Secret", set_(("spec", "provider", "vault", "auth"), {"tokenSecretRef": {"name": "vault-token", "key": "token"}})),
    Mutation("slm-secrets-011", "ESO-store-auth", "secretstore-vault", "plain http vault", set_(("spec", "provider", "vault", "server"), "http://vault.example.com:8200")),
    Mutation("slm-secrets-011", "ESO-store-auth", "clustersecretstore-aws", "access keys in a Secret", set_(("spec", "provider", "aws", "auth"), {"secretRef": {"accessKeyIDSecretRef": {"name": "aws", "key": "id"}, "secretAccessKeySecretRef": {"name": "aws", "key": "secret"}}})),
    Mutation("slm-secrets-011", "ESO-store-auth", "clustersecretstore-aws", "unreviewed provider", set_(("spec", "provider"), {"azurekv": {"vaultUrl": "https://kv-llm.vault.azure.net", "authType": "ManagedIdentity"}})),
    Mutation("slm-secrets-006", "secret-store", "secret-placeholder", "inline data", set_(("stringData",), {"token": "s3cr3t-sentinel-never-printed"})),
    Mutation("slm-secrets-006", "secret-store", CO, "compose env secret", set_(("secrets", "hf_token"), {"environment": "HF_TOKEN"})),
    # Compose
    Mutation("slm-compose-001", "C-user", CO, "no user", drop(SV + ("user",))),
    Mutation("slm-compose-001", "C-user", CO, "root", set_(SG + ("user",), "0:0")),
    Mutation("slm-compose-002", "C-read-only", CO, "writable", drop(SV + ("read_only",))),
    Mutation("slm-compose-002", "C-read-only", CO, "no tmp", drop(SG + ("tmpfs",))),
    Mutation("slm-compose-003", "C-capabilities", CO, "no drop", drop(SV + ("cap_drop",))),
    Mutation("slm-compose-003", "C-capabilities", CO, "add sys_admin", set_(SV + ("cap_add",), ["SYS_ADMIN"])),
    Mutation("slm-compose-004", "C-security-opt", CO, "no nnp", drop(SV + ("security_opt",))),
    Mutation("slm-compose-004", "C-security-opt", CO, "unconfined", append(SV + ("security_opt",), "seccomp:unconfined")),
    Mutation("slm-compose-005", "C-privileged", CO, "privileged", set_(SV + ("privileged",), True)),
    Mutation("slm-compose-006", "C-host-namespaces", CO, "ipc host", set_(SV + ("ipc",), "host")),
    Mutation("slm-compose-006", "C-host-namespaces", CO, "network host", set_(SG + ("network_mode",), "host")),
    Mutation("slm-compose-006", "C-host-namespaces", CO, "pid host", set_(SL + ("pid",), "host")),
    Mutation("slm-compose-007", "C-ports", CO, "all interfaces", set_(SG + ("ports",), ["8443:8443"])),
    Mutation("slm-compose-007", "C-ports", CO, "privileged host port", set_(SG + ("ports",), ["127.0.0.1:443:8443"])),
    Mutation("slm-compose-007", "C-ports", CO, "long syntax no host_ip", set_(SG + ("ports",), [{"target": 8443, "published": 8443}])),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "open proxy",
             edit_text(SQC, "http_access allow download_hosts", "http_access allow all"), expect="exactly one"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "second allow",
             edit_text(SQC, "http_access deny all", "http_access allow CONNECT\nhttp_access deny all"),
             expect="exactly one"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "no final deny",
             edit_text(SQC, "http_access deny all\n", ""), expect="deny all"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "plain HTTP let through",
             edit_text(SQC, "http_access deny !CONNECT\n", ""), expect="but CONNECT"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "any port let through",
             edit_text(SQC, "http_access deny !tls_port\n", ""), expect="but 443"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "port ACL widened",
             edit_text(SQC, "acl tls_port port 443", "acl tls_port port 443 22"), expect="but 443"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "every subdomain of a hub name",
             edit_text(SQC, "    huggingface.co", "    .huggingface.co"), expect="exact host name"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "a whole top-level domain",
             edit_text(SQC, "acl tls_port", "acl download_hosts dstdomain com\nacl tls_port"),
             expect="exact host name"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "a wildcard entry",
             edit_text(SQC, "    huggingface.co", "    *.co"), expect="exact host name"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "an address ACL on the allowed name",
             edit_text(SQC, "acl tls_port", "acl download_hosts dst 0.0.0.0/0\nacl tls_port"),
             expect="not addresses"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "an address ACL allowed",
             edit_text(SQC, "http_access allow download_hosts",
                       "acl anywhere dst 0.0.0.0/0\nhttp_access allow anywhere"), expect="not addresses"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "TLS interception",
             edit_text(SQC, "cache deny all", "ssl_bump peek all\ncache deny all"), expect="ssl_bump"),
    Mutation("slm-docker-013", "D-egress-allowlist", SQ, "a second listener",
             edit_text(SQC, "http_port 3128", "http_port 3128\nhttp_port 8080"), expect="one http_port"),
    Mutation("slm-compose-008", "C-networks", CO, "default network", drop(SV + ("networks",))),
    Mutation("slm-compose-008", "C-networks", CO, "backend not internal", drop(("networks", "backend", "internal"))),
    Mutation("slm-compose-008", "C-networks", CO, "runtime joins the model-prep egress network",
             append(SL + ("networks",), "egress")),
    Mutation("slm-compose-008", "C-networks", CO, "egress-proxy label on another service does not exempt it",
             set_(("services", "llamacpp-egress-proxy", "labels", "slm-deploy.io/component"), "runtime")),
    Mutation("slm-compose-008", "C-networks", CO, "runtime relabelled egress-proxy joins the egress network",
             both(append(SL + ("networks",), "egress"), set_(SL + ("labels", "slm-deploy.io/component"), "egress-proxy")),
             expect="services.llamacpp publishes no ports"),
    Mutation("slm-compose-016", "C-component-labels", CO, "runtime relabelled model-prep",
             set_(SL + ("labels", "slm-deploy.io/component"), "model-prep"),
             expect="services.llamacpp is labelled model-prep but is neither awaited to complete"),
    Mutation("slm-compose-016", "C-component-labels", CO, "server the gateway waits for relabelled model-prep",
             both(set_(SG + ("depends_on",), {"vllm": {"condition": "service_healthy"}}),
                  set_(SV + ("labels", "slm-deploy.io/component"), "model-prep")),
             expect="services.vllm is labelled model-prep but is awaited as a healthy server"),
    Mutation("slm-compose-016", "C-component-labels", CO, "gateway relabelled model-prep keeps its ports",
             set_(SG + ("labels", "slm-deploy.io/component"), "model-prep"), expect="publishes ports"),
    Mutation("slm-compose-016", "C-component-labels", CO, "runtime relabelled egress-proxy",
             set_(SL + ("labels", "slm-deploy.io/component"), "egress-proxy"),
             expect="services.llamacpp is labelled egress-proxy but does not run /usr/sbin/squid"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy reads another configuration",
             set_(SX + ("command",), ["-N", "-f", "/models/squid.conf"]), expect="does not read /etc/squid/squid.conf"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy given the model volume",
             set_(SX + ("volumes",), ["models:/models"]), expect="has volumes"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy given a secret",
             set_(SX + ("secrets",), ["hf_token"]), expect="has secrets"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy publishes its port",
             set_(SX + ("ports",), ["127.0.0.1:3128:3128"]), expect="has ports"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy resolves a hub name to another address",
             set_(SX + ("extra_hosts",), ["huggingface.co:203.0.113.5"]), expect="sets extra_hosts"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy given its own DNS server",
             set_(SX + ("dns",), ["203.0.113.53"]), expect="sets dns"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy given a DNS search domain",
             set_(SX + ("dns_search",), ["evil.example"]), expect="sets dns_search"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy pulled from a registry instead of built",
             both(drop(SX + ("build",)), set_(SX + ("image",), "docker.io/ubuntu/squid@sha256:" + "1" * 64)),
             expect="not built from the bundle"),
    Mutation("slm-compose-016", "C-component-labels", CO, "proxy built from another folder",
             set_(SX + ("build", "context"), "../docker/llamacpp"), expect="not built from the bundle"),
    Mutation("slm-compose-015", "C-download-egress", CO, "runtime joins the download network",
             append(SL + ("networks",), "model-download"), expect="services.llamacpp joins the download network"),
    Mutation("slm-compose-015", "C-download-egress", CO, "gateway joins the download network",
             append(SG + ("networks",), "model-download"), expect="services.gateway joins the download network"),
    Mutation("slm-compose-015", "C-download-egress", CO, "proxy joins the backend network",
             append(SX + ("networks",), "backend"), expect="joins 2 networks besides"),
    Mutation("slm-compose-015", "C-download-egress", CO, "runtime shares the proxy's way out",
             append(SL + ("networks",), "egress"), expect="services.llamacpp shares network egress"),
    Mutation("slm-compose-015", "C-download-egress", CO, "download joins the egress network",
             append(SD + ("networks",), "egress"), expect="on network egress"),
    Mutation("slm-compose-015", "C-download-egress", CO, "download network loses internal",
             drop(("networks", "model-download", "internal")), expect="on network model-download"),
    Mutation("slm-compose-015", "C-download-egress", CO, "download on the default network",
             drop(SD + ("networks",)), expect="on network default"),
    Mutation("slm-compose-015", "C-download-egress", CO, "download shares the proxy's network namespace",
             both(drop(SD + ("networks",)), set_(SD + ("network_mode",), "service:llamacpp-egress-proxy")),
             expect="shares another network namespace"),
    Mutation("slm-compose-009", "C-limits", CO, "no pids", drop(SG + ("pids_limit",))),
    Mutation("slm-compose-009", "C-limits", CO, "no memory", drop(SL + ("mem_limit",))),
    Mutation("slm-compose-009", "C-limits", CO, "no cpus", drop(SV + ("deploy", "resources", "limits", "cpus"))),
    Mutation("slm-compose-010", "C-health", CO, "no healthcheck", drop(SG + ("healthcheck",))),
    Mutation("slm-compose-010", "C-health", CO, "disabled healthcheck", set_(SV + ("healthcheck",), {"disable": True})),
    Mutation("slm-compose-010", "C-health", CO, "restart always", set_(SL + ("restart",), "always")),
    Mutation("slm-compose-010", "C-health", CO, "unchecked step not awaited to completion",
             both(set_(SL + ("depends_on", "llamacpp-model-prep", "condition"), "service_started"),
                  set_(("services", "llamacpp-model-prep", "healthcheck"), {"disable": True}))),
    Mutation("slm-compose-011", "C-secrets", CO, "undeclared", set_(SG + ("secrets",), ["other"])),
    Mutation("slm-compose-011", "C-secrets", CO, "target outside", set_(SV + ("secrets", 0, "target"), "/app/hf_token")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "docker sock", append(SG + ("volumes",), "/var/run/docker.sock:/var/run/docker.sock")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "etc", append(SV + ("volumes",), {"type": "bind", "source": "/etc", "target": "/host-etc"})),
    Mutation("slm-compose-012", "C-host-mounts", CO, "api socket", set_(SL + ("use_api_socket",), True)),
    Mutation("slm-compose-012", "C-host-mounts", CO, "climbs out of the bundle",
             append(SV + ("volumes",), "../../..:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "climbs to a system folder",
             append(SV + ("volumes",), "/srv/models/../../etc:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a folder that holds a system folder",
             append(SV + ("volumes",), "/var/lib:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a doubled leading slash",
             append(SV + ("volumes",), "//etc:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a user's home folder",
             append(SV + ("volumes",), "/home/alice/models:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a container engine's state",
             append(SV + ("volumes",), {"type": "bind", "source": "/var/lib/containerd", "target": "/models/onnx"})),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a hidden folder inside a data root",
             append(SV + ("volumes",), "/srv/models/.ssh:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a data root itself",
             append(SV + ("volumes",), "/srv:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "the home folder by tilde",
             append(SV + ("volumes",), "~/models:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a folder named by interpolation",
             append(SV + ("volumes",), "${HOME}/models:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a hidden file of the bundle",
             append(SV + ("volumes",), "./.env:/models/onnx:ro")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a secret read from a user's SSH key",
             set_(("secrets", "hf_token", "file"), "/home/alice/.ssh/id_ed25519")),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a config read from the host's configuration",
             set_(("configs",), {"host": {"file": "/etc/shadow"}})),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a named volume recursively bound to a host folder",
             set_(("volumes", "hostetc"), {"driver_opts": {"o": "rbind,ro", "device": "/var/lib/etcd"}})),
    Mutation("slm-compose-012", "C-host-mounts", CO, "a named volume bound to a host folder",
             both(set_(("volumes", "hostetc"), {"driver": "local",
                                                "driver_opts": {"type": "none", "o": "bind", "device": "/etc"}}),
                  append(SV + ("volumes",), "hostetc:/models/onnx:ro"))),
    Mutation("slm-compose-013", "C-init", CO, "no init", drop(SV + ("init",))),
    Mutation("slm-compose-014", "C-gpu", CO, "raw devices", set_(SV + ("devices",), ["/dev/nvidia0:/dev/nvidia0"])),
    # Serving
    Mutation("slm-serving-001", "S-trust-remote-code", D, "trust remote code", append(C + ("args",), "--trust-remote-code")),
    Mutation("slm-serving-001", "S-trust-remote-code", CO, "compose trust", append(SV + ("command",), "--trust-remote-code")),
    Mutation("slm-serving-001", "S-trust-remote-code", V, "dockerfile trust", sub('"--port", "8000"]', '"--port", "8000", "--trust-remote-code"]')),
    Mutation("slm-serving-001", "S-trust-remote-code", D, "trust by environment",
             append(C + ("env",), {"name": "VLLM_TRUST_REMOTE_CODE", "value": "1"}), expect="--trust-remote-code"),
    Mutation("slm-serving-001", "S-trust-remote-code", CO, "compose trust by environment",
             set_(SV + ("environment", "VLLM_TRUST_REMOTE_CODE"), "true"), expect="--trust-remote-code"),
    Mutation("slm-serving-002", "S-gateway-auth", "service-gateway", "no auth label", drop(("metadata", "labels", "slm-deploy.io/auth"))),
    Mutation("slm-serving-002", "S-gateway-auth", CO, "runtime published", set_(SV + ("ports",), ["0.0.0.0:8000:8000"])),
    Mutation("slm-serving-003", "S-model-revision", D, "no revision", set_(C + ("args",), ["--model", "microsoft/Phi-4-mini-instruct", "--port", "8000"])),
    Mutation("slm-serving-003", "S-model-revision", CO, "branch revision", set_(SV + ("command", 3), "main")),
    Mutation("slm-serving-003", "S-model-revision", DL, "llama -hf", set_(C + ("args",), ["-hf", "Qwen/Qwen3-0.6B-GGUF:Q4_K_M", "--metrics", "--no-slots"])),
    Mutation("slm-serving-004", "S-image-digest", D, "tag only", set_(C + ("image",), "docker.io/vllm/vllm-openai:v0.11.0")),
    Mutation("slm-serving-004", "K12", DL, "latest init", set_(P + ("initContainers", 0, "image"), "ghcr.io/example/fetcher:latest")),
    Mutation("slm-serving-004", "S-image-digest", CO, "compose tag", set_(SG + ("image",), "ghcr.io/example/gateway:1.0.0")),
    Mutation("slm-serving-004", "S-image-digest", D, "digest with no name", set_(C + ("image",), "@sha256:" + "1" * 64)),
    Mutation("slm-serving-005", "S-startup-budget", D, "short budget", set_(C + ("startupProbe", "failureThreshold"), 30)),
    Mutation("slm-serving-005", "K17", D, "no startup probe", drop(C + ("startupProbe",))),
    Mutation("slm-serving-005", "S-startup-budget", D, "no weights annotation", drop(("metadata", "annotations"))),
    Mutation("slm-serving-006", "S-gpu-limits", D, "gpu request only", drop(C + ("resources", "limits", "nvidia.com/gpu"))),
    Mutation("slm-serving-006", "S-gpu-limits", CO, "gpu count missing", set_(SV + ("deploy", "resources", "reservations", "devices", 0), {"driver": "nvidia", "capabilities": ["gpu"]})),
    Mutation("slm-serving-007", "S-secret-literals", D, "env literal", append(C + ("env",), HOSTILE_ENV)),
    Mutation("slm-serving-007", "K16", DL, "api key argument", set_(C + ("args", 8), "--api-key")),
    Mutation("slm-serving-007", "S-secret-literals", CO, "compose env", set_(SV + ("environment", "HF_TOKEN"), "s3cr3t-sentinel-never-printed")),
    Mutation("slm-serving-008", "S-llamacpp", DL, "no metrics", set_(C + ("args", 6), "--verbose")),
    Mutation("slm-serving-008", "S-llamacpp", DL, "slots on", set_(C + ("args", 7), "--slots")),
    Mutation("slm-serving-008", "S-llamacpp", CO, "compose slots default", set_(SL + ("command", 7), "--jinja")),
    Mutation("slm-serving-008", "S-llamacpp", CO, "a server labelled model-prep is still checked",
             set_(("services", "llamacpp-model-prep", "entrypoint"), ["/app/llama-server", "-m", "/models/m.gguf"])),
    Mutation("slm-serving-008", "S-llamacpp", L, "dockerfile no metrics", sub('"--metrics", ', "")),
    Mutation("slm-serving-012", "S-launch-env", D, "debug log level",
             append(C + ("env",), {"name": "VLLM_LOGGING_LEVEL", "value": "DEBUG"}), expect="debug output"),
    Mutation("slm-serving-012", "S-launch-env", DL, "llama.cpp trace",
             append(C + ("env",), {"name": "LLAMA_TRACE", "value": "1"}), expect="debug output"),
    Mutation("slm-serving-012", "S-launch-env", CO, "compose GPU selection",
             set_(SV + ("environment", "NVIDIA_VISIBLE_DEVICES"), "all"), expect="GPU selection"),
    Mutation("slm-serving-013", "S-offline-conversion", CO, "conversion given the token secret",
             append(SCONV + ("secrets",), "hf_token"), expect="given secrets"),
    Mutation("slm-serving-013", "S-offline-conversion", CO, "conversion told where the token is",
             set_(SCONV + ("environment", "HF_TOKEN_PATH"), "/run/secrets/hf_token"), expect="hub token"),
    Mutation("slm-serving-013", "S-offline-conversion", CO, "conversion on a network",
             both(drop(SCONV + ("network_mode",)), set_(SCONV + ("networks",), ["egress"])), expect="has a network"),
    Mutation("slm-serving-013", "S-offline-conversion", CO, "conversion on the host network",
             set_(SCONV + ("network_mode",), "host"), expect="has a network"),
    Mutation("slm-serving-013", "S-offline-conversion", CO, "conversion found by name alone",
             both(drop(SCONV + ("depends_on",)), drop(SCONV + ("network_mode",))), expect="has a network"),
    Mutation("slm-serving-013", "S-offline-conversion", JP, "convert mounts the secrets",
             append(CONVERT + ("volumeMounts",), {"name": "secrets", "mountPath": "/var/run/hub", "readOnly": True}),
             expect="mounts secrets"),
    Mutation("slm-serving-013", "S-offline-conversion", JP, "convert told where the token is",
             append(CONVERT + ("env",), {"name": "HF_TOKEN_PATH", "value": "/run/secrets/hf-token"}),
             expect="hub token"),
    Mutation("slm-serving-013", "S-offline-conversion", JP, "convert reads the token secret",
             append(CONVERT + ("env",), {"name": "HUB", "valueFrom": {"secretKeyRef": {"name": "hf-token",
                                                                                     "key": "hf-token"}}}),
             expect="reads a Secret"),
    Mutation("slm-serving-013", "S-offline-conversion", JP, "convert online",
             set_(CONVERT + ("env",), [{"name": "HF_HUB_OFFLINE", "value": "0"}]), expect="HF_HUB_OFFLINE=1"),
    Mutation("slm-serving-009", "S-shared-memory", D, "no dshm", set_(C + ("volumeMounts",), [{"name": "tmp", "mountPath": "/tmp"}])),
    Mutation("slm-serving-009", "S-shared-memory", D, "host ipc", set_(P + ("hostIPC",), True)),
    Mutation("slm-serving-009", "S-shared-memory", CO, "compose no shm", drop(SV + ("shm_size",))),
    Mutation("slm-serving-011", "S-gateway-auth", HW, "port proxy",
             script_adds("netsh interface portproxy add v4tov4 listenaddress=10.0.0.5 listenport=5273 "
                         "connectaddress=127.0.0.1 connectport=5273"), expect="port proxy"),
    Mutation("slm-serving-011", "S-gateway-auth", HW, "inbound firewall rule",
             script_adds("New-NetFirewallRule -Name x -Direction Inbound -Action Allow -LocalPort 5273"),
             expect="inbound firewall rule"),
    Mutation("slm-serving-011", "S-gateway-auth", HL, "ufw opening",
             script_adds('ufw allow proto tcp from 10.0.0.0/24 port "$PORT"'), expect="ufw allow"),
    Mutation("slm-serving-011", "S-gateway-auth", HL, "socket forwarder",
             script_adds("ListenStream=10.0.0.5:5273"), expect="10.0.0.5"),
    Mutation("slm-serving-011", "S-gateway-auth", HL, "IPv6 listener in another spelling",
             script_adds("ListenStream=[fd00::5]:5273"), expect="fd00::5"),
    Mutation("slm-serving-011", "S-gateway-auth", HL, "socat forwarder",
             script_adds("socat TCP-LISTEN:5273,fork TCP:127.0.0.1:5273"), expect="socat"),
    Mutation("slm-serving-014", "S-host-safeguards", MS, "no provenance check",
             edit_text(("script",), "| cmp -s - PROVENANCE", "| cat >/dev/null"), expect="provenance"),
    Mutation("slm-serving-014", "S-host-safeguards", MS, "no sha256 check",
             edit_text(("script",), "|| ! shasum -a 256 --check --strict --quiet SHA256SUMS >/dev/null 2>&1", ""),
             expect="sha256"),
    Mutation("slm-serving-014", "S-host-safeguards", MS, "unlisted files allowed",
             edit_text(("script",), "| uniq -u | grep -q .", "| grep -q NOTHING"), expect="does not list"),
    Mutation("slm-serving-014", "S-host-safeguards", MS, "check after the server starts",
             edit_text(("script",), "set -eu\n", "set -eu\n\"$ROOT/venv/bin/mlx_lm.server\" --allowed-origins '' &\n"),
             expect="provenance"),
    Mutation("slm-serving-014", "S-host-safeguards", MS, "every origin allowed",
             edit_text(("script",), " --allowed-origins ''", ""), expect="--allowed-origins"),
    Mutation("slm-serving-014", "S-host-safeguards", MS, "an origin allowed",
             edit_text(("script",), "--allowed-origins ''", "--allowed-origins '*'"), expect="--allowed-origins"),
    Mutation("slm-serving-014", "S-host-safeguards", MR, "unpinned requirement",
             edit_text(("script",), "numpy==2.4.6", "numpy>=2"), expect="one version"),
    Mutation("slm-serving-014", "S-host-safeguards", MR, "requirement without hash",
             edit_text(("script",), "\nnumpy==2.4.6 ", "\nnumpy==2.4.6\nx==1 "), expect="--hash"),
    Mutation("slm-serving-014", "S-host-safeguards", MR, "another index",
             script_adds("--extra-index-url https://mirror.example/simple"), expect="index"),
    Mutation("slm-serving-014", "S-host-safeguards", MI, "install without hashes",
             edit_text(("script",), "--require-hashes ", ""), expect="--require-hashes"),
    Mutation("slm-serving-014", "S-host-safeguards", MI, "install resolving dependencies",
             edit_text(("script",), " --no-deps", ""), expect="--no-deps"),
    Mutation("slm-serving-014", "S-host-safeguards", MI, "no pip check",
             edit_text(("script",), '"$ROOT/venv/bin/python" -m pip check\n', ""), expect="pip check"),
    Mutation("slm-serving-014", "S-host-safeguards", MI, "another unlocked install",
             script_adds('"$ROOT/venv/bin/pip" install mlx-lm'), expect="--require-hashes"),
    Mutation("slm-serving-014", "S-host-safeguards", MP, "download piped into a shell",
             script_adds("curl -fsSL https://get.example.com/setup | sh"), expect="interpreter"),
    Mutation("slm-serving-014", "S-host-safeguards", MP, "download piped into sudo bash",
             script_adds("wget -qO- https://get.example.com/setup | sudo -E bash -s -- --yes"), expect="interpreter"),
    Mutation("slm-serving-014", "S-host-safeguards", MP, "download run by sh -c",
             script_adds('sh -c "$(curl -fsSL https://get.example.com/setup)"'), expect="interpreter"),
    Mutation("slm-serving-014", "S-host-safeguards", HL, "Foundry install piped into a shell",
             script_adds("curl -fsSL https://get.example.com/setup | sh"), expect="interpreter"),
    Mutation("slm-serving-014", "S-host-safeguards", MP, "whole repository downloaded",
             edit_text(("script",), " --include '*.json' --include '*.jinja' --include '*.model' --include '*.safetensors' "
                       "--include '*.tiktoken' --include '*.txt'", ""), expect="--include"),
    Mutation("slm-serving-010", "S-gateway-auth", "ingress", "to runtime", set_(("spec", "rules", 0, "http", "paths", 0, "backend", "service", "name"), "vllm")),
    Mutation("slm-serving-015", "S-prepared-model", DL, "no wait-for-model", drop(P + ("initContainers", 1)),
             expect="PROVENANCE"),
    Mutation("slm-serving-015", "S-prepared-model", DL, "provenance only",
             set_(P + ("initContainers", 1, "args"), ["cmp -s /models/want /models/gguf/PROVENANCE; cat SHA256SUMS"]),
             expect="sha256"),
]
