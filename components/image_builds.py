"""ImageBuilds: every image slm-deploy builds, as pulumi-docker-build Images from the rendered contexts."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build

from slm_deploy.render.images import build_context, build_owners, built_image
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.loader import Deployment
from slm_deploy.stack_settings import StackSettings

CA_BUNDLE_SECRET = "ca_bundle"
"""The BuildKit secret id the rendered Dockerfiles read (RUN --mount=type=secret,id=ca_bundle)."""


def write_context(directory: Path, files: dict[str, str]) -> None:
    """Write a build context, touching only files whose text changed (the builder's cache stays warm)."""
    for relative, text in sorted(files.items()):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            temporary = target.with_name(f".{target.name}.tmp")
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(target)


def image_tags(deployment: Deployment, name: str) -> list[str]:
    """The src-<hash> name first (what manifests pull), then the spec's extra tags on the same repository."""
    docker = deployment.spec.targets.docker
    repository = name.rsplit(":", 1)[0]
    extra = [f"{repository}:{tag}" for tag in (docker.tags if docker else [])]
    return [name, *[t for t in extra if t != name]]


def registry_host(registry: str) -> str:
    """The host part of a registry path (myregistry.azurecr.io/team -> myregistry.azurecr.io)."""
    return registry.split("/", 1)[0]


class ImageBuilds(pulumi.ComponentResource):
    """One Image per build owner; pushed when the spec names a registry, else loaded into the local engine."""

    def __init__(self, name: str, deployment: Deployment, plan: RuntimePlan, settings: StackSettings,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:docker:ImageBuilds", name, None, opts)
        docker = deployment.spec.targets.docker
        registry = docker.registry if docker else None
        self.images: dict[str, docker_build.Image] = {}
        """Built image name (registry/repository/service:src-hash) -> its Image resource."""
        for owner in build_owners(plan):
            context = build_context(deployment, owner)
            directory = settings.work_dir / "docker" / owner.name
            write_context(directory, context)
            image_name = built_image(deployment, owner)
            self.images[image_name] = docker_build.Image(
                f"{name}-{owner.name}",
                context={"location": str(directory)},
                dockerfile={"inline": context["Dockerfile"]},
                tags=image_tags(deployment, image_name),
                platforms=list(settings.platforms),
                push=registry is not None,
                load=registry is None,
                registries=self._registries(registry, settings),
                secrets={CA_BUNDLE_SECRET: settings.ca_bundle} if settings.ca_bundle is not None else None,
                labels={"org.opencontainers.image.title": owner.name,
                        "io.slm-deploy.spec-sha256": deployment.spec_hash},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.refs = {image_name: image.ref for image_name, image in self.images.items()}
        """Built image name -> registry/repository/service:tag@sha256:digest once pushed."""
        self.register_outputs({"refs": self.refs})

    @staticmethod
    def _registries(registry: str | None, settings: StackSettings) -> list[dict] | None:
        login = settings.registry_login
        if registry is None or login is None:
            return None
        return [{"address": registry_host(registry), "username": login.username, "password": login.password}]
