"""Names of the images slm-deploy builds: a registry path plus a tag derived from the build context."""

from __future__ import annotations

from functools import lru_cache

from slm_deploy.errors import Problem, SpecError
from slm_deploy.policies.builds import source_tag
from slm_deploy.render.dockerfile import render_dockerfile
from slm_deploy.runtimes.plan import RuntimePlan, ServicePlan
from slm_deploy.spec.loader import Deployment

DEFAULT_REPOSITORY = "slm-deploy"


def build_owners(plan: RuntimePlan) -> list[ServicePlan]:
    """Services that own an image build (a build shared by two services is rendered once)."""
    owners: list[ServicePlan] = []
    for service in plan.services:
        if service.build is not None and all(o.build != service.build for o in owners):
            owners.append(service)
    return owners


def build_context(deployment: Deployment, owner: ServicePlan) -> dict[str, str]:
    """Every file of the build context, keyed by path inside docker/<service>/."""
    return dict(_context(owner, render_dockerfile(owner, deployment)))


@lru_cache(maxsize=16)
def _context(owner: ServicePlan, dockerfile: str) -> tuple[tuple[str, str], ...]:
    """Keyed on all the context is made of: a render names each image (and its tags) several times over."""
    files = {"Dockerfile": dockerfile, **dict(owner.own_build.context_files)}
    return tuple({**files, ".dockerignore": dockerignore(files)}.items())


@lru_cache(maxsize=16)
def _context_tag(owner: ServicePlan, dockerfile: str) -> str:
    """The content tag of that context, hashed once, not each time the image is named."""
    return source_tag(dict(_context(owner, dockerfile)))


def dockerignore(files: dict[str, str]) -> str:
    """Send the builder only the files slm-deploy wrote, whatever else lands in the folder."""
    tops = sorted({path.split("/", 1)[0] + ("/" if "/" in path else "") for path in files})
    return "*\n" + "".join(f"!{top}\n" for top in tops)


def built_image(deployment: Deployment, owner: ServicePlan) -> str:
    """registry/repository/service:src-tag, the name builds are tagged and pushed under."""
    docker = deployment.spec.targets.docker
    registry = f"{docker.registry}/" if docker and docker.registry else ""
    repository = docker.repository if docker and docker.repository else DEFAULT_REPOSITORY
    tag = _context_tag(owner, render_dockerfile(owner, deployment))
    return f"{registry}{repository}/{owner.name}:{tag}"


def owner_of(plan: RuntimePlan, service: ServicePlan) -> ServicePlan:
    """The service whose build produces the image `service` runs."""
    return next(s for s in build_owners(plan) if s.build == service.build)


def cluster_image(deployment: Deployment, plan: RuntimePlan, service: ServicePlan) -> str:
    """What a cluster pulls: the pinned image, or the built one from the spec's registry."""
    if service.image is not None:
        return service.image.reference
    docker = deployment.spec.targets.docker
    if docker is None or docker.registry is None:
        raise SpecError(Problem(
            "targets.docker.registry", f"Kubernetes must pull the image slm-deploy builds for {service.name}",
            allowed="a registry host such as myregistry.azurecr.io",
            hint="set targets.docker.registry; `pulumi up` builds and pushes it there, pinned by digest"))
    return built_image(deployment, owner_of(plan, service))


def registry_tags(deployment: Deployment, owner: ServicePlan) -> list[str]:
    """The content-addressed name plus one name per targets.docker tag, all under the spec's registry path."""
    primary = built_image(deployment, owner)
    docker = deployment.spec.targets.docker
    extra = list(docker.tags) if docker else []
    name = primary.rsplit(":", 1)[0]
    return [primary, *(f"{name}:{tag}" for tag in extra)]


def compose_image_names(project: str, plan: RuntimePlan, owner: ServicePlan) -> list[str]:
    """What Compose v2 calls the image of each service built from this owner's context (<project>-<service>)."""
    return [f"{project}-{s.name}" for s in plan.services if s.build is not None and s.build == owner.build]
