"""ImageBuilds: every image slm-deploy builds, as pulumi-docker-build Images from the rendered contexts."""

from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_docker_build as docker_build
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.component_inputs import ResolvedSpec, checked_args
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.images import build_context, build_owners, built_image
from slm_deploy.spec.loader import Deployment
from slm_deploy.stack_settings import DEFAULT_PLATFORMS

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


def registry_host(registry: pulumi.Input[str]) -> pulumi.Output[str]:
    """The host BuildKit logs into, for a registry known now or later (myregistry.azurecr.io/team ->
    myregistry.azurecr.io)."""
    return pulumi.Output.from_input(registry).apply(lambda path: path.split("/", 1)[0])


class ImageBuildsArgs(TypedDict, total=False):
    """The spec whose images to build, where to write their contexts, and where to push them."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    build_dir: Required[str]
    """Directory the build contexts are written to (docker/<service>/ inside it); the caller owns it."""
    registry: pulumi.Input[str]
    """Push to this registry instead of targets.docker.registry; may be an Output (a registry made here)."""
    registry_username: pulumi.Input[str]
    registry_password: pulumi.Input[str]
    """Kept secret; with registry_username, the login BuildKit pushes with."""
    platforms: list[str]
    """Target platforms (default linux/amd64)."""
    ca_bundle: pulumi.Input[str]
    """PEM bundle the builds trust for package downloads (a BuildKit secret, never a layer)."""


IMAGE_BUILDS_ARGS = frozenset(ImageBuildsArgs.__annotations__)


class ImageBuilds(pulumi.ComponentResource):
    """One Image per build owner; pushed when a registry is known, else loaded into the local engine."""

    images: pulumi.Output[dict[str, str]]
    """Service that owns a build -> the built image as registry/repository/service:tag@sha256:digest."""

    def __init__(self, name: str, args: ImageBuildsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:ImageBuilds", name, None, opts)
        values = checked_args("ImageBuilds", args, IMAGE_BUILDS_ARGS)
        resolved = ResolvedSpec(values["spec"], registry=values.get("registry"))
        deployment = resolved.deployment
        docker = deployment.spec.targets.docker
        registry = docker.registry if docker else None
        owners = build_owners(deployable_plan(deployment))
        if owners and not values.get("build_dir"):
            raise TypeError("ImageBuilds needs args['build_dir']: the directory build contexts are written to")
        login = _login(values)
        later = resolved.given("registry")
        push_to = registry if later is None else later  # an Output registry: its host once it resolves
        built: dict[str, docker_build.Image] = {}
        for owner in owners:
            context = build_context(deployment, owner)
            directory = Path(values["build_dir"]) / "docker" / owner.name
            write_context(directory, context)
            built[owner.name] = docker_build.Image(
                f"{name}-{owner.name}",
                context={"location": str(directory)},
                dockerfile={"inline": context["Dockerfile"]},
                tags=[resolved.bind(tag) for tag in image_tags(deployment, built_image(deployment, owner))],
                platforms=_platforms(values),
                push=registry is not None,
                load=registry is None,
                registries=_registries(push_to, login),
                secrets={CA_BUNDLE_SECRET: values["ca_bundle"]} if values.get("ca_bundle") is not None else None,
                labels={"org.opencontainers.image.title": owner.name,
                        "io.slm-deploy.spec-sha256": deployment.spec_hash},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.built = built
        refs = {service: image.ref for service, image in built.items()}
        self.images = pulumi.Output.all(**refs) if refs else pulumi.Output.from_input({})
        claim_child_names(self)
        self.register_outputs({"images": self.images})


def _platforms(values: dict[str, Any]) -> list[docker_build.Platform]:
    """The BuildKit target platforms, each one the provider names (its Platform enum)."""
    known = {platform.value: platform for platform in docker_build.Platform}
    given = list(values.get("platforms") or DEFAULT_PLATFORMS)
    if any(platform not in known for platform in given):
        raise TypeError(f"ImageBuilds args['platforms'] holds a platform BuildKit cannot target; allowed: "
                        f"{', '.join(sorted(known))}")
    return [known[platform] for platform in given]


def _login(values: dict[str, Any]) -> tuple[pulumi.Input[str], pulumi.Input[str]] | None:
    username, password = values.get("registry_username"), values.get("registry_password")
    if (username is None) != (password is None):
        raise TypeError("ImageBuilds needs both args['registry_username'] and args['registry_password'], or neither")
    if username is None or password is None:
        return None
    return username, pulumi.Output.secret(password)


def _registries(registry: pulumi.Input[str] | None,
                login: tuple[pulumi.Input[str], pulumi.Input[str]] | None) -> list[docker_build.RegistryArgsDict] | None:
    if registry is None or login is None:
        return None
    return [{"address": registry_host(registry), "username": login[0], "password": login[1]}]
