"""Pieces every runtime adapter shares: pinned images, cache redirection, env merging, secrets."""

from __future__ import annotations

from slm_deploy import __version__
from slm_deploy.errors import Problem, SpecError
from slm_deploy.runtimes.plan import CACHE_ROOT, SECRETS_ROOT, SecretFile
from slm_deploy.spec.images import ImageRef, parse_image, pins_table
from slm_deploy.spec.loader import Deployment

WRITABLE_PATHS = ("/tmp", CACHE_ROOT)
VENV_PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def pinned(deployment: Deployment, key: str) -> ImageRef:
    """A row of the pins table, after the spec's base-image override and registry mirror."""
    security = deployment.spec.security
    override = security.base_images.get(key)
    image = parse_image(override) if override else pins_table()[key].image
    return image if override else image.mirrored(security.registry_mirror)


def runtime_image(deployment: Deployment, key: str) -> ImageRef:
    """The runtime's image: the spec's runtime.image if given, else the pinned default."""
    override = deployment.spec.runtime.image
    return parse_image(override) if override else pinned(deployment, key)


def cache_env() -> dict[str, str]:
    """Point every cache a runtime may write at the writable cache volume (root fs is read-only)."""
    return {
        "HOME": CACHE_ROOT,
        "XDG_CACHE_HOME": f"{CACHE_ROOT}/xdg-cache",
        "XDG_CONFIG_HOME": f"{CACHE_ROOT}/xdg-config",
        "XDG_DATA_HOME": f"{CACHE_ROOT}/xdg-data",
        "TMPDIR": "/tmp",
    }


def python_venv_env() -> dict[str, str]:
    """Environment of the images slm-deploy builds around a Python virtualenv in /opt/venv."""
    return {"PATH": VENV_PATH, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


def merge_env(generated: dict[str, str], deployment: Deployment) -> tuple[tuple[str, str], ...]:
    """Add the spec's extra env to the generated env; the generated keys are not overridable."""
    user = deployment.spec.runtime.env
    clashes = sorted(set(user) & set(generated))
    if clashes:
        raise SpecError([Problem(f"runtime.env.{name}", "is set by slm-deploy for this runtime",
                                 hint="use the runtime's typed options instead") for name in clashes])
    return tuple(sorted({**generated, **user}.items()))


def secret_file(name: str, env: str | None = None) -> SecretFile:
    """Mount a spec secret at /run/secrets/<name>, as Compose and the Kubernetes renderer both do."""
    return SecretFile(secret=name, path=f"{SECRETS_ROOT}/{name}", env=env)


def service_labels(deployment: Deployment, component: str, runtime: str | None = None) -> tuple[tuple[str, str], ...]:
    """Recommended Kubernetes labels, also used as OCI/compose labels; `runtime` names what the container runs."""
    return (
        ("app.kubernetes.io/component", component),
        ("app.kubernetes.io/instance", deployment.spec.name),
        ("app.kubernetes.io/managed-by", "slm-deploy"),
        ("app.kubernetes.io/name", deployment.spec.runtime.kind),
        ("app.kubernetes.io/version", __version__),
        ("slm-deploy.io/component", component),
        ("slm-deploy.io/runtime", runtime or deployment.spec.runtime.kind),
    )
