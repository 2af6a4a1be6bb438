"""Key Vault diagnostic settings keep the audit trail."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, items
from slm_deploy.policies.model import Rule, Severity

AUDIT_GROUPS = ("audit", "alllogs")
DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId")


def _audited(setting) -> bool:
    for entry in items(get(setting, "logs")):
        if not isinstance(entry, Mapping) or entry.get("enabled") is not True:
            continue
        if str(entry.get("categoryGroup") or "").lower() in AUDIT_GROUPS or entry.get("category") == "AuditEvent":
            return True
    return False


def check(setting, ctx):
    """Yield violations for a diagnostic setting that records no audit log or sends it nowhere."""
    if not _audited(setting):
        yield "logs must enable the audit (or allLogs) category group"
    if not any(get(setting, field) for field in DESTINATIONS):
        yield "the setting must send its logs to a workspace, storage account or event hub"


RULE = Rule(
    id="slm-secrets-007",
    name="Diagnostic settings record Key Vault audit logs in a destination.",
    severity=Severity.MEDIUM,
    controls=("KV-diagnostics",),
    kinds=frozenset({"DiagnosticSetting"}),
    rationale="Without the audit log nobody can tell who read a model token or an API key file, or when; "
              "Key Vault keeps no access history of its own.",
    remediation="Add a diagnostic setting on the vault with logs [{categoryGroup: allLogs, enabled: true}] and a "
                "workspaceId (slm-deploy uses the cluster's Log Analytics workspace).",
    benchmarks=(),
    check=check,
    tags=("key-vault", "logging"),
)
