"""Render one spec or a fleet of them in one process: every spec is loaded and rendered before any is written."""

from __future__ import annotations

from pathlib import Path

from slm_deploy.errors import Problem, SpecError
from slm_deploy.render.bundle import Bundle, render_bundle
from slm_deploy.spec.consistency import kubernetes_target, own_add_on_namespaces
from slm_deploy.spec.loader import Deployment, load_deployment
from slm_deploy.spec.namespace_owners import namespace_owner_clashes
from slm_deploy.spec.shared_cluster import add_on_clash


def render_specs(paths: list[Path]) -> list[tuple[Deployment, Bundle]]:
    """Each spec's deployment and bundle (validate renders in memory too); the problems of every bad spec are
    reported together, each with its file."""
    rendered: list[tuple[Deployment, Bundle]] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            deployment = load_deployment(path)
            rendered.append((deployment, render_bundle(deployment)))
        except SpecError as exc:  # the loader and render_bundle name the file of every problem they raise
            problems.extend(exc.problems)
    if not problems:
        problems.extend(_namespace_clashes([deployment for deployment, _ in rendered]))
    if problems:
        raise SpecError(problems)
    return rendered


def _shares_a_cluster(deployment: Deployment) -> bool:
    """Whether the deployment goes to a cluster other specs of the run may share (an AKS target creates its own)."""
    return kubernetes_target(deployment.spec) is not None and deployment.spec.targets.aks is None


def _namespace_clashes(deployments: list[Deployment]) -> list[Problem]:
    """Specs rendered together without a cluster of their own are taken to share one; each spec's add-on
    namespaces are worked out once, so a fleet's check grows with its size, not its square."""
    sharing = [d for d in deployments if _shares_a_cluster(d)]
    add_ons = [own_add_on_namespaces(d.spec) for d in sharing]
    problems: list[Problem] = []
    for index, deployment in enumerate(sharing):
        problem = add_on_clash(deployment.spec, add_ons[:index] + add_ons[index + 1:])
        problems += deployment.error([problem]).problems if problem else []
    for index, problem in namespace_owner_clashes([d.spec for d in sharing], lambda other, field: _where(sharing[other], field)):
        problems += sharing[index].error([problem]).problems
    return problems


def _where(deployment: Deployment, field: str) -> str:
    """file:line of a field of another spec of the run, to name that deployment without echoing its values."""
    return deployment.locate(field) if deployment.locate else "another spec of the run"


def bundle_dir(name: str, out: Path | None, *, several: bool) -> Path:
    """build/<name> by default; --out itself for one spec, --out/<name> for several."""
    if out is None:
        return Path("build") / name
    return out / name if several else out
