"""A5: logging and monitoring are on."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import TRIVY, Rule, Severity, bench
from slm_deploy.policies.rules._aks import addon


def check(cluster, ctx):
    """Yield a violation when neither Container Insights nor managed Prometheus is enabled."""
    insights = addon(cluster, "omsagent", "omsAgent").get("enabled") is True
    prometheus = get(cluster, "azureMonitorProfile", "metrics", "enabled") is True
    if not (insights or prometheus):
        yield "enable addonProfiles.omsagent or azureMonitorProfile.metrics"


RULE = Rule(
    id="slm-aks-005",
    name="The AKS cluster sends logs and metrics to Azure Monitor.",
    severity=Severity.MEDIUM,
    controls=("A5",),
    kinds=frozenset({"ManagedCluster"}),
    rationale="Without cluster logging an intrusion or a crash-looping model server leaves no trace to "
              "investigate or alert on.",
    remediation="Set azureMonitorProfile.metrics.enabled: true (managed Prometheus) and/or enable the "
                "omsagent add-on with a Log Analytics workspace.",
    benchmarks=(bench(TRIVY, "AZU-0040"),),
    check=check,
    tags=("aks", "monitoring"),
)
