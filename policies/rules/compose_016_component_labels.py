"""Compose: a service labelled as a model-preparation step or as the egress proxy is what its label says."""

from __future__ import annotations

from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import (
    EGRESS_PROXY, KINDS, MODEL_PREP, component_of, not_a_step, not_the_proxy, services,
)


def check(project, ctx):
    """Yield a violation per model-prep service that is not a one-shot step and per egress-proxy service that is
    not the rendered Squid, naming what gives it away."""
    for path, service in services(project):
        component = component_of(service)
        if component == MODEL_PREP:
            reasons = not_a_step(project, path, service)
        elif component == EGRESS_PROXY:
            reasons = not_the_proxy(service)
        else:
            continue
        if reasons:
            yield f"{path} is labelled {component} but " + "; ".join(reasons)


RULE = Rule(
    id="slm-compose-016",
    name="Compose services labelled model-prep are one-shot steps and those labelled egress-proxy run the "
         "rendered Squid.",
    severity=Severity.MEDIUM,
    controls=("C-component-labels",),
    kinds=KINDS,
    rationale="The network rules treat these components apart: the egress proxy alone may join a network with a "
              "route out, and the model download alone may hold the hub token on the proxy's network. A label "
              "costs one line to change, so the model server relabelled as either would inherit that treatment. "
              "A download step publishes nothing, nothing waits for it to be healthy, and the runtime waits for "
              "it to complete (Ollama's pull runs on demand, in the prep profile); the proxy runs "
              "`/usr/sbin/squid -N -f /etc/squid/squid.conf`, publishes nothing and holds no volume or secret. "
              "Squid connects to whatever the allowed names resolve to, so the proxy keeps the engine's name "
              "resolution (no extra_hosts, dns, dns_search or dns_opt), and it is built from the bundle's "
              "docker/<name>-egress-proxy folder, whose squid.conf slm-docker-013 judges, not pulled as an image.",
    remediation="Keep the labels slm-deploy renders: `slm-deploy.io/component: model-prep` only on the download "
                "and conversion steps, `egress-proxy` only on the Squid service; render the bundle again rather "
                "than relabelling a service.",
    benchmarks=(bench(CIS_DOCKER, "5.30"),),
    check=check,
    tags=("compose", "network", "model-prep"),
)
