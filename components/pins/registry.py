"""Resolve image tags through the OCI distribution API, with the anonymous bearer-token flow registries use."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import httpx

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
LOOPBACK = re.compile(r"^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]+)?$")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
TIMEOUT_SECONDS = 30.0


class RegistryProblem(Exception):
    """The registry could not tell what the tag resolves to; the message says why, never a credential."""


@dataclass(frozen=True)
class Resolution:
    """What a tag resolves to now: the digest clients pull and how many platforms it serves."""

    digest: str
    media_type: str
    platforms: tuple[str, ...]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def split_image(image: str) -> tuple[str, str]:
    """registry host and repository path, with Docker Hub's defaults (docker.io, library/)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, rest
    else:
        host, repository = DOCKER_HUB, image
    if host == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return host, repository


def registry_base(host: str) -> str:
    """Plain HTTP only for a loopback registry (as Docker allows by default), HTTPS everywhere else."""
    if host == DOCKER_HUB:
        host = DOCKER_HUB_API
    return f"{'http' if LOOPBACK.match(host) else 'https'}://{host}"


class RegistryClient:
    """Ask registries about manifests; one HTTP client and one token per repository for the whole run."""

    def __init__(self, http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True)
        self._tokens: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def resolve(self, image: str, tag: str) -> Resolution:
        """GET the manifest for image:tag and report its digest, kind and platforms."""
        host, repository = split_image(image)
        url = f"{registry_base(host)}/v2/{repository}/manifests/{tag}"
        response = self._get(url, host, repository)
        if response.status_code == 404:
            raise RegistryProblem(f"{image}:{tag} does not exist in the registry (404)")
        if response.status_code != 200:
            raise RegistryProblem(f"{image}:{tag}: registry answered {response.status_code}")
        body = response.content
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != computed:
            raise RegistryProblem(f"{image}:{tag}: the registry's digest header does not match the manifest it sent")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            manifest = json.loads(body)
        except ValueError as error:
            raise RegistryProblem(f"{image}:{tag}: the manifest is not JSON") from error
        media_type = manifest.get("mediaType") or media_type
        return Resolution(computed, media_type, _platforms(manifest, media_type))

    def _get(self, url: str, host: str, repository: str) -> httpx.Response:
        headers = {"Accept": ACCEPT}
        token = self._tokens.get((host, repository))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._http.get(url, headers=headers)
            if response.status_code == 401 and not token:
                token = self._anonymous_token(response, host, repository)
                self._tokens[(host, repository)] = token
                response = self._http.get(url, headers={**headers, "Authorization": f"Bearer {token}"})
        except httpx.HTTPError as error:
            raise RegistryProblem(f"{host}: cannot reach the registry ({error.__class__.__name__})") from error
        return response

    def _anonymous_token(self, challenge: httpx.Response, host: str, repository: str) -> str:
        """Follow the WWW-Authenticate Bearer challenge for a pull-scoped anonymous token."""
        header = challenge.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = header.partition(" ")
        if scheme.lower() != "bearer":
            raise RegistryProblem(f"{host}: the registry wants {scheme or 'unknown'} authentication; only anonymous "
                                  "bearer tokens are supported")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        if "realm" not in params:
            raise RegistryProblem(f"{host}: the bearer challenge names no realm")
        query = {"scope": params.get("scope", f"repository:{repository}:pull")}
        if "service" in params:
            query["service"] = params["service"]
        response = self._http.get(params["realm"], params=query)
        if response.status_code != 200:
            raise RegistryProblem(f"{host}: the token service answered {response.status_code}")
        payload = response.json()
        token = payload.get("token") or payload.get("access_token")
        if not token:
            raise RegistryProblem(f"{host}: the token service returned no token")
        return str(token)


def _platforms(manifest: dict, media_type: str) -> tuple[str, ...]:
    """os/arch[/variant] of every image an index serves (attestations excluded); one entry for a single image."""
    if media_type not in INDEX_TYPES:
        return ("single",)
    found = []
    for entry in manifest.get("manifests") or []:
        platform = entry.get("platform") or {}
        os_name, arch = platform.get("os"), platform.get("architecture")
        if not os_name or not arch or (os_name, arch) == ("unknown", "unknown"):
            continue
        found.append("/".join(filter(None, (os_name, arch, platform.get("variant")))))
    return tuple(sorted(found))
