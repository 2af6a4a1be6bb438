"""`slm-deploy build BUNDLE [--push]`: build the bundle's images; with --push, pin the bundle to their digests."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Annotated

import typer

from slm_deploy.errors import BundleError

DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _owned_files(root: Path, manifest: dict) -> dict[str, str]:
    """Every file manifest.json lists, as text, so the pinned bundle is written whole and atomically."""
    files = {}
    for relative in sorted({*(manifest.get("files") or {}), "manifest.json"}):
        path = PurePosixPath(relative)
        if path.is_absolute() or ".." in path.parts or (root / relative).is_symlink():
            raise BundleError(f"{root}: manifest.json lists a file outside the bundle\n  hint: re-render the bundle")
        try:
            files[relative] = (root / relative).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise BundleError(f"{root}: {relative} is listed in manifest.json but cannot be read\n"
                              "  hint: re-render the bundle") from None
    return files


def _compose_tags(bundle: Path, context: str) -> list[str]:
    """The names Compose v2 gives images of services building from `context` (<project>-<service>), so a local
    build is what `docker compose up` runs."""
    import yaml

    from slm_deploy.policies.built_images import COMPOSE_FILE, compose_context

    try:
        env = (bundle / "compose" / ".env").read_text(encoding="utf-8")
        services = (yaml.safe_load((bundle / COMPOSE_FILE).read_text(encoding="utf-8")) or {}).get("services", {})
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        return []
    project = next((line.split("=", 1)[1].strip() for line in env.splitlines()
                    if line.startswith("COMPOSE_PROJECT_NAME=")), None)
    return [f"{project}-{name}" for name, service in sorted(services.items())
            if project and isinstance(service, dict) and compose_context(service) == context]


def _registry_host(name: str) -> str | None:
    """The registry a name is pushed to, when its first part names a host (has a dot or a port, or is localhost)."""
    first, _, rest = name.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else None


def _images_to_build(bundle: Path, push: bool) -> list:
    """The bundle's built images, refused when the bundle is half-pinned, a context was edited since render, or
    --push has no registry to push to."""
    from slm_deploy.policies.builds import verified_builds
    from slm_deploy.policies.bundle import require_bundle
    from slm_deploy.policies.built_images import MANIFEST, build_state, built_images

    images = built_images(require_bundle(bundle))
    if not images:
        raise BundleError(f"{bundle}: {MANIFEST} records no images to build\n"
                          "  hint: re-render the bundle with this release of slm-deploy")
    if build_state(images) == "half-pinned":
        raise BundleError(f"{bundle}: {MANIFEST} records digests for some built images and not others\n"
                          "  hint: re-render the bundle, then build it again")
    verified = set(verified_builds(bundle))
    changed = [i.context for i in images if f"{i.owner}:{i.name.rsplit(':', 1)[1]}" not in verified]
    if changed:
        raise BundleError(f"{bundle}: {', '.join(changed)} changed since render, so its content tag is stale\n"
                          "  hint: re-render the bundle instead of editing build contexts")
    if push and any(_registry_host(i.name) is None for i in images):
        raise BundleError("targets.docker.registry: --push needs the registry the bundle's images are pushed to\n"
                          "  allowed: a registry host such as myregistry.azurecr.io\n"
                          "  hint: set targets.docker.registry in the spec and render again")
    return images


def _certificates(ca_bundle: Path | None) -> Path | None:
    """The CA bundle the builds get as a secret: the one given, else the host's when it has one."""
    if ca_bundle is None:
        return DEFAULT_CA_BUNDLE if DEFAULT_CA_BUNDLE.is_file() else None
    if not ca_bundle.is_file():
        raise BundleError("--ca-bundle: not a readable file\n  hint: pass a PEM file of CA certificates")
    return ca_bundle


def _dockerfile(bundle: Path, context: str) -> str:
    """The Dockerfile of one build context, whose ARG lines say which build arguments it takes."""
    try:
        return (bundle / context / "Dockerfile").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise BundleError(f"{bundle}: {context}/Dockerfile cannot be read\n  hint: re-render the bundle") from None


def build(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory written by `slm-deploy render`.")],
    push: Annotated[bool, typer.Option("--push", help="Push to the spec's registry and pin the bundle's "
                                                      "kustomizations, Compose file and manifest.json to the "
                                                      "pushed digests.")] = False,
    ca_bundle: Annotated[Path | None, typer.Option("--ca-bundle", dir_okay=False,
                                                   help="CA certificates for the build's package downloads "
                                                        "(default: the host's bundle, when present).")] = None,
    build_arg: Annotated[list[str] | None, typer.Option("--build-arg", metavar="NAME=VALUE",
                                                        help="A build argument the images' Dockerfiles declare with "
                                                             "ARG (TORCH_FIND_LINKS, PACKAGE_INDEX, "
                                                             "LLAMACPP_SDIST_URL for air-gapped builds); "
                                                             "repeatable.")] = None,
) -> None:
    """Build every image BUNDLE defines with BuildKit, under the names its workloads pull."""
    from slm_deploy.build_arguments import build_args_for, declared_build_args, parse_build_args
    from slm_deploy.cli.console import stdout_console
    from slm_deploy.cli.docker_client import build_image, push_image
    from slm_deploy.policies.bundle import read_manifest
    from slm_deploy.render.bundle import Bundle
    from slm_deploy.render.pinning import pin_bundle
    from slm_deploy.render.writer import write_bundle

    out = stdout_console()
    images = _images_to_build(bundle, push)
    certificates = _certificates(ca_bundle)
    dockerfiles = {image.context: _dockerfile(bundle, image.context) for image in images}
    build_args = parse_build_args(build_arg or [], frozenset().union(*map(declared_build_args, dockerfiles.values())))
    files = _owned_files(bundle, dict(read_manifest(bundle) or {})) if push else {}
    digests = {}
    for image in images:  # nothing is written until every image is pushed
        tags = [image.name, *image.tags]
        build_image(bundle / image.context, [*tags, *_compose_tags(bundle, image.context)], certificates,
                    build_args_for(dockerfiles[image.context], build_args))
        if push:
            digests[image.owner] = push_image(tags)
        out.print(f"built {image.name}" + (f"@{digests[image.owner]}" if push else ""), markup=False,
                  highlight=False)
    if push:
        write_bundle(Bundle(pin_bundle(files, digests)), bundle)
        out.print(f"pinned {bundle} to {len(digests)} pushed digests", markup=False, highlight=False)
