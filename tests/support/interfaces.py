"""Check what a rendered deployment asks of each program against that program's interface record.

Every flag on a server's command line, every environment variable, every probe and metrics path and every
metric name a drain or autoscaler reads must exist in the record of the pinned version; a violation names
the runtime, the item and the version, so a removed flag fails with the reason on one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from slm_deploy.pins.interfaces import InterfaceRecord, RecordError, load
from slm_deploy.render.monitoring.vocabulary import RUNTIME_METRICS
from slm_deploy.render.hosts import FOUNDRY_CLI
from slm_deploy.render.mlx_host import CONVERT_FLAGS, SERVER_FLAGS
from slm_deploy.runtimes import plan_deployment
from slm_deploy.runtimes.plan import HostInstall, HttpCheck, MlxHost, ServicePlan
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.runtime_records import RECORD_OF

LIBRARIES = {"vllm": ("huggingface-hub", "numba"), "onnxruntime": ("huggingface-hub",),
             "open-webui": ("huggingface-hub",)}
"""Libraries inside each image whose variables the adapters set (each has its own record)."""
PREPARATION_TEMPLATES, PREPARATION_RECORD = "model-prep-", "huggingface-hub"
"""The model-preparation image runs the converters, not the server: its variables are huggingface_hub's."""
PROCESS_CONVENTIONS = {
    "HOME": "POSIX home directory", "USER": "POSIX login name", "LOGNAME": "POSIX login name",
    "TMPDIR": "POSIX temporary directory", "PATH": "POSIX command search path",
    "XDG_CACHE_HOME": "XDG base directories", "XDG_CONFIG_HOME": "XDG base directories",
    "XDG_DATA_HOME": "XDG base directories", "PYTHONPATH": "the Python interpreter",
    "PYTHONDONTWRITEBYTECODE": "the Python interpreter", "PYTHONUNBUFFERED": "the Python interpreter",
}
"""Variables read by the C library, the shell or the interpreter rather than by the program itself."""
PROXY_CONVENTIONS = frozenset({"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"})
"""The egress proxy's variables, read by the HTTP stack under the program (Go's net/http ProxyFromEnvironment,
Python's urllib, requests and httpx, libcurl), not by the program's own settings; the egress container test runs
a download through them."""
OUTSIDE_RECORD = {
    ("open-webui", "PORT"): "read by the image's start.sh, which the PyPI package does not contain",
    ("open-webui", "ANONYMIZED_TELEMETRY"): "chromadb's telemetry switch inside the image",
    ("open-webui", "SCARF_NO_ANALYTICS"): "the Scarf analytics opt-out of the image's Node and Python packages",
    ("open-webui", "DO_NOT_TRACK"): "the cross-tool analytics opt-out, honoured by the image's libraries",
}
"""The only variables checked elsewhere than a record, each with the reason; the list is kept short on purpose."""
METRIC_NAME = re.compile(r"\b(vllm:[a-z_:]+|llamacpp:[a-z_:]+|ortgenai_[a-z_]+|slm_gateway_[a-z_]+)\b")
OLDER_SPELLINGS = frozenset(
    spelling.name + suffix for signals in RUNTIME_METRICS.values() for metrics in signals.values()
    for metric in metrics if metric.older_releases for spelling in metric.spellings()
    for suffix in (("", "_bucket", "_sum", "_count") if metric.kind == "histogram" else ("",)))
"""Names the rules read for releases before the pinned one; the pinned release's record lacks them by design."""
METRIC_OWNER = {"vllm:": "vllm", "llamacpp:": "llamacpp", "ortgenai_": "ortgenai", "slm_gateway_": "gateway"}
UNDERSCORE_FLAGS = {"vllm"}
"""Runtimes whose parser accepts --max_model_len for --max-model-len (vLLM's FlexibleArgumentParser)."""


@lru_cache(maxsize=None)
def record(runtime: str) -> InterfaceRecord | None:
    try:
        return load(runtime)
    except RecordError:
        return None


@dataclass
class Findings:
    """Violations, and the record ids the deployment needed (so a missing record is its own finding)."""

    violations: list[str] = field(default_factory=list)
    needed: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)

    def need(self, runtime: str) -> InterfaceRecord | None:
        self.needed.add(runtime)
        found = record(runtime)
        if found is None:
            self.missing.add(runtime)
        return found


def _flag(token: str, runtime: str) -> str:
    name = token.split("=", 1)[0]
    if runtime in UNDERSCORE_FLAGS and name.startswith("--"):
        name = "--" + name[2:].replace("_", "-")
    return name


def _program_arguments(command: tuple[str, ...]) -> list[str]:
    """The program's own options in the command: after `python -m module`; an executable's options are in args."""
    if command and command[0].startswith("python") and "-m" in command:
        return list(command[command.index("-m") + 2:])
    return []


def _check_service(service: ServicePlan, findings: Findings) -> None:
    if service.role == "monitoring":
        return  # Prometheus, Alertmanager and Grafana: promtool, amtool and the live tests judge their files
    if service.role == "egress-proxy":
        return  # Squid runs its rendered command and configuration in tests/integration/test_egress_proxy.py
    runtime = RECORD_OF[service.runtime] if service.role != "gateway" else "gateway"
    libraries = LIBRARIES.get(service.runtime, ())
    if service.build is not None and service.build.template.startswith(PREPARATION_TEMPLATES):
        runtime, libraries = PREPARATION_RECORD, ()
    rec = findings.need(runtime)
    if rec is None:
        return
    where = f"{runtime} {rec.version}"
    if service.role in ("runtime", "gateway", "ui"):
        argv = _program_arguments(service.command) + list(service.args)
        for token in argv:
            if token.startswith("-") and _flag(token, runtime) not in rec.flags:
                findings.violations.append(f"{where} has no flag {_flag(token, runtime)} (service {service.name})")
        for check in (service.health, service.readiness):
            if isinstance(check, HttpCheck) and check.path not in rec.endpoints:
                findings.violations.append(f"{where} serves no {check.path} (probe of {service.name})")
        if service.metrics_path and service.metrics_path not in rec.endpoints:
            findings.violations.append(f"{where} serves no {service.metrics_path} (metrics of {service.name})")
    library_env = set()
    for library in libraries:
        library_record = findings.need(library)
        library_env |= library_record.env if library_record else set()
    for name, _ in service.env:
        read_elsewhere = name in PROCESS_CONVENTIONS or name in PROXY_CONVENTIONS or (runtime, name) in OUTSIDE_RECORD
        if name in rec.env or name in library_env or read_elsewhere:
            continue
        findings.violations.append(f"{where} reads no environment variable {name} (service {service.name})")


def _check_foundry_cli(findings: Findings) -> None:
    """Every `foundry` command and option the host scripts call exists in the pinned CLI reference."""
    rec = findings.need("foundry-local")
    if rec is None:
        return
    for words in FOUNDRY_CLI.values():
        command = " ".join(["foundry", *(w for w in words if not w.startswith(("-", "{")) and not w.isdigit())])
        if command != "foundry" and command not in rec.commands:
            findings.violations.append(f"foundry-local {rec.version} has no command `{command}`")
        for flag in (w for w in words if w.startswith("-")):
            if flag not in rec.flags:
                findings.violations.append(f"foundry-local {rec.version} has no flag {flag} (`{' '.join(words)}`)")


def _check_mlx_host(host: MlxHost, findings: Findings) -> None:
    """Every mlx_lm.server and mlx_lm.convert option the MLX scripts pass exists at the pinned mlx-lm."""
    uses = {"mlx-lm-server": SERVER_FLAGS,
            "mlx-lm-convert": (*CONVERT_FLAGS, *(a for a in host.convert_args if a.startswith("-")))}
    for record, flags in uses.items():
        rec = findings.need(record)
        for flag in flags:
            if rec is not None and flag not in rec.flags:
                findings.violations.append(f"{record} {rec.version} has no flag {flag} (host {host.service})")


def check_plan(deployment: Deployment) -> Findings:
    """Flags, variables and paths of every service, and the CLI calls of every host install."""
    findings = Findings()
    plan = plan_deployment(deployment)
    for service in plan.services:
        _check_service(service, findings)
    if any(isinstance(host, HostInstall) for host in plan.hosts):
        _check_foundry_cli(findings)
    for host in plan.hosts:
        if isinstance(host, MlxHost):
            _check_mlx_host(host, findings)
    return findings


def check_metric_names(texts: list[str], findings: Findings) -> None:
    """Every metric name in rendered drains, autoscaler queries or rules exists in its exporter's record (a
    histogram's own name stands for its _bucket, _sum and _count series)."""
    for text in texts:
        for name in sorted(set(METRIC_NAME.findall(text)) - OLDER_SPELLINGS):
            owner = next(o for prefix, o in METRIC_OWNER.items() if name.startswith(prefix))
            rec = findings.need(owner)
            if rec is not None and name not in rec.metrics and f"{name}_bucket" not in rec.metrics:
                findings.violations.append(f"{owner} {rec.version} exports no metric {name}")
