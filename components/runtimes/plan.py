"""The frozen plan each runtime adapter returns: everything a renderer needs, nothing it must compute."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from slm_deploy.spec.images import ImageRef

Role = Literal["runtime", "ui", "model-prep", "gateway", "monitoring", "smoke", "egress-proxy"]

CACHE_ROOT = "/var/cache/slm"
MODEL_ROOT = "/models"
SECRETS_ROOT = "/run/secrets"
RUN_AS_NAME = "slm"
"""The account name of UID 10001 in the images slm-deploy builds (templates/docker/_hardening.j2)."""


@dataclass(frozen=True)
class HttpCheck:
    """An HTTP GET the orchestrator sends to the container's own port."""

    path: str
    port: int


@dataclass(frozen=True)
class ExecCheck:
    """A command run inside the container; success means healthy."""

    command: tuple[str, ...]


Check = HttpCheck | ExecCheck


@dataclass(frozen=True)
class SecretFile:
    """A secret mounted as a file; the program learns its path from `env` when it has one."""

    secret: str
    path: str
    env: str | None = None


@dataclass(frozen=True)
class ImageBuild:
    """How the hardened image for a service is built from a pinned base."""

    template: str
    """Template name under templates/docker/, without the .Dockerfile.j2 suffix."""
    base: ImageRef
    context_files: tuple[tuple[str, str], ...] = ()
    """Extra files of the build context: (relative path, text)."""
    healthcheck: tuple[str, ...] = ()
    """Exec-form HEALTHCHECK command baked into the image."""
    packages: tuple[str, ...] = ()
    """Python requirement lines installed into the image."""
    sources: tuple[ImageRef, ...] = ()
    """Pinned images whose files the build copies in (upstream binaries on the pinned base)."""


@dataclass(frozen=True)
class GpuNeed:
    """NVIDIA GPUs per replica."""

    count: int
    type: str


@dataclass(frozen=True)
class ServicePlan:
    """One service of a deployment as every target sees it."""

    name: str
    role: Role
    runtime: str
    image: ImageRef | None
    """The pinned image orchestrators run; None when only a local build exists."""
    build: ImageBuild | None
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    port: int | None
    health: Check | None
    readiness: Check | None
    metrics_path: str | None
    writable_paths: tuple[str, ...]
    secret_files: tuple[SecretFile, ...] = ()
    metrics_port: int | None = None
    """Where metrics are served when not on `port` (the gateway's separate metrics listener)."""
    gpu: GpuNeed | None = None
    cpu: float = 1.0
    memory_bytes: int = 512 * 2**20
    shm_bytes: int = 64 * 2**20
    startup_budget_seconds: int = 300
    model_dir: str | None = None
    model_host_path: str | None = None
    """A host folder mounted read-only as the model directory (local ONNX models, Compose only)."""
    depends_on: tuple[str, ...] = ()
    upstream_port: int | None = None
    """The port of the service a proxy (Open WebUI) forwards work to; its drain waits on those connections."""
    one_shot: bool = False
    offline: bool = False
    """A step with no network at all (model conversion reads only the model volume)."""
    model_check: str | None = None
    """A shell check of the prepared model the serving pods run before serving (a refusal exits non-zero)."""
    labels: tuple[tuple[str, str], ...] = field(default=())

    @property
    def own_build(self) -> ImageBuild:
        """The build of a service that owns one (see render.images.build_owners); asked of any other, it is a bug."""
        if self.build is None:
            raise ValueError(f"service {self.name} runs a pinned image and has no build")
        return self.build


@dataclass(frozen=True)
class HostInstall:
    """A host-level install (Foundry Local) for one operating system."""

    service: str
    os: str
    model_alias: str
    port: int
    release: str = ""
    """The pinned upstream release the install script downloads and verifies."""
    version: str = ""

    @property
    def client_url(self) -> str:
        """The OpenAI-compatible base URL: the loopback service itself."""
        return f"http://127.0.0.1:{self.port}/v1"


@dataclass(frozen=True)
class RuntimePlan:
    """All services of a deployment plus any host-level installs, in a stable order."""

    services: tuple[ServicePlan, ...]
    hosts: tuple[HostInstall | MlxHost, ...] = ()

    def by_role(self, role: Role) -> tuple[ServicePlan, ...]:
        """The services that play one role, e.g. the runtime itself."""
        return tuple(s for s in self.services if s.role == role)


@dataclass(frozen=True)
class MlxHost:
    """An MLX install on an Apple silicon Mac: converted weights, mlx_lm.server on loopback, the gateway in front."""

    service: str
    repo: str
    revision: str
    model_type: str | None
    """config.json model_type when the catalogue records it; an explicit source is checked on the host."""
    served_name: str
    convert_args: tuple[str, ...]
    server_port: int
    gateway_port: int
    bind_address: str
    gateway_config: str
    keys_secret: str
    """The secret holding the gateway's API keys: its file under the install's secrets folder."""
    hub_token_secret: str | None
    version: str
    requirements: str
    """The hash-locked requirements file of the host's virtual environment (install.sh installs exactly it)."""

    @property
    def client_url(self) -> str:
        """The OpenAI-compatible base URL clients use: the gateway."""
        return f"http://{self.bind_address}:{self.gateway_port}/v1"
