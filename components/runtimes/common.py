"""Pieces every runtime adapter shares: pinned images, cache redirection, env merging, secrets."""

from __future__ import annotations

from typing import TypeVar

from slm_deploy import __version__
from slm_deploy.errors import Problem, SpecError
from slm_deploy.runtimes.plan import CACHE_ROOT, MODEL_ROOT, SECRETS_ROOT, ImageBuild, SecretFile, ServicePlan
from slm_deploy.spec.base import SpecModel
from slm_deploy.spec.images import ImageRef, parse_image, pinned_row
from slm_deploy.spec.loader import Deployment

Options = TypeVar("Options", bound=SpecModel)
Source = TypeVar("Source", bound=SpecModel)

WRITABLE_PATHS = ("/tmp", CACHE_ROOT)
VENV_PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PYTHON_HEALTHCHECK = (
    "python3", "-c",
    "import sys,urllib.request;urllib.request.urlopen(sys.argv[1],timeout=5)",
)
"""A healthcheck for images with Python and no curl: the URL is its last argument."""


def options_of(deployment: Deployment, kind: type[Options]) -> Options:
    """The runtime section as its adapter's own type: plan() dispatches on `runtime.kind`, so another is a bug."""
    options = deployment.spec.runtime
    if not isinstance(options, kind):
        raise TypeError(f"{type(options).__name__} reached the {kind.__name__} adapter")
    return options


def source_of(deployment: Deployment, kind: type[Source]) -> Source:
    """The resolved model source as the type its runtime loads (resolution refuses a source of another kind)."""
    source = deployment.model.source
    if not isinstance(source, kind):
        raise TypeError(f"a {type(source).__name__} reached an adapter that loads a {kind.__name__}")
    return source


def pinned(deployment: Deployment, key: str) -> ImageRef:
    """A row of the pins table, after the spec's base-image override and registry mirror."""
    security = deployment.spec.security
    return pinned_row(key, security.base_images, security.registry_mirror)


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


def hub_token(deployment: Deployment, env: str | None = "HF_TOKEN_PATH") -> tuple[tuple[SecretFile, ...], dict[str, str]]:
    """The Hugging Face token as a mounted file, and the variable that points the downloader at it."""
    name = deployment.spec.model.hub_token_secret
    if not name:
        return (), {}
    token = secret_file(name, env)
    return (token,), ({env: token.path} if env else {})


def model_prep_service(deployment: Deployment, *, image: ImageRef | None, build: ImageBuild | None,
                       command: tuple[str, ...], args: tuple[str, ...], env: dict[str, str],
                       secrets: tuple[SecretFile, ...], cpu: float, memory_bytes: int) -> ServicePlan:
    """The one-shot step that fills the model volume, so the server never downloads at start."""
    return ServicePlan(
        name=f"{deployment.spec.name}-model-prep", role="model-prep", runtime=deployment.spec.runtime.kind,
        image=image, build=build, command=command, args=args, env=tuple(sorted(env.items())), port=None,
        health=None, readiness=None, metrics_path=None, writable_paths=WRITABLE_PATHS + (MODEL_ROOT,),
        secret_files=secrets, cpu=cpu, memory_bytes=memory_bytes, model_dir=MODEL_ROOT, one_shot=True,
        labels=service_labels(deployment, "model-prep"),
    )
