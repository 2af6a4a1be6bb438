"""The rule catalogue reviewers read, generated from the rules so it cannot drift from the code."""

from __future__ import annotations

import sys
from pathlib import Path

from slm_deploy.policies.model import Rule
from slm_deploy.policies.registry import all_rules

AREAS = {"docker": "Dockerfiles", "k8s": "Kubernetes", "aks": "AKS clusters", "secrets": "Secret stores",
         "compose": "Docker Compose", "serving": "Model serving"}


def _benchmarks(rule: Rule) -> str:
    """Benchmark mapping as one table cell."""
    if not rule.benchmarks:
        return "project control"
    return "; ".join(f"{b.framework} {b.version}: {', '.join(b.ids)}" for b in rule.benchmarks)


def _options(rule: Rule) -> list[str]:
    """Config options as bullet lines."""
    return [f"  - `{o.name}` (default `{o.default!r}`): {o.description}" for o in rule.options]


def render_catalogue(rules: tuple[Rule, ...] | None = None) -> str:
    """Markdown catalogue: an index table, then one section per rule with rationale and remediation."""
    rules = rules or all_rules()
    out = ["# Policy catalogue", "",
           "Generated from `slm_deploy.policies` by `python -m slm_deploy.policies.catalogue --write "
           "docs/policy-catalogue.md`; a test fails when this file is stale.", "",
           f"{len(rules)} rules. Severity drives `slm-deploy check --fail-on`; every rule runs offline and, "
           "unless marked offline-only, as a CrossGuard policy of the same id.", "",
           "| Id | Severity | Controls | Rule |", "|---|---|---|---|"]
    out += [f"| [{r.id}](#{r.id}) | {r.severity.value} | {', '.join(r.controls)} | {r.name} |" for r in rules]
    for area, title in AREAS.items():
        members = [r for r in rules if r.id.split("-")[1] == area]
        if not members:
            continue
        out += ["", f"## {title}"]
        for rule in members:
            out += ["", f"### {rule.id}", "", f"**{rule.name}**", "",
                    f"- Severity: {rule.severity.value}",
                    f"- Controls (hardening reference): {', '.join(rule.controls)}",
                    f"- Applies to: {', '.join(sorted(rule.kinds))}"
                    + (" (offline checker only)" if not rule.crossguard else "")
                    + (" (whole bundle / stack)" if rule.scope == "bundle" else ""),
                    f"- Benchmarks: {_benchmarks(rule)}",
                    f"- Rationale: {rule.rationale}",
                    f"- Remediation: {rule.remediation}"]
            if rule.options:
                out += ["- Options:", *_options(rule)]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    """Print the catalogue, or write it with --write PATH."""
    text = render_catalogue()
    if len(argv) == 2 and argv[0] == "--write":
        Path(argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
