"""Where a scaffolded project installs slm-deploy from: a pip direct reference (a Git URL at a tag or commit, or an
https URL of a wheel or sdist), given as the slm_deploy_source answer or derived from how the generating slm-deploy
was installed (its PEP 610 direct_url.json). A project never names slm-deploy by a bare index name."""

from __future__ import annotations

import json
import re
from importlib.metadata import PackageNotFoundError, distribution

from slm_deploy.spec.hosts import HOST_PORT, checked_host_port, documentation_host

PATH = r"/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*"
GIT_SOURCE = re.compile(rf"git\+https://(?P<authority>{HOST_PORT}){PATH}@(?P<ref>[0-9a-f]{{40}}|[A-Za-z0-9][A-Za-z0-9._-]*)")
ARCHIVE_SOURCE = re.compile(rf"https://(?P<authority>{HOST_PORT}){PATH}\.(whl|tar\.gz|zip)(#sha256=[0-9a-f]{{64}})?")
SOURCE_LIMIT = 2048
ALLOWED = ("git+https://<host>/<path>@<tag or 40-hex commit>, or the https:// URL of a slm-deploy wheel or sdist "
           "(.whl, .tar.gz, .zip) optionally ending in #sha256=<64 hex digits>; a dotted host of lower-case labels, "
           "no user name or token, no documentation host (example.com, 192.0.2.0/24 and the like), no spaces")
WHY = "slm_deploy_source (where requirements.txt installs slm-deploy from, with CI's cloud secrets at hand)"


def source_problem(source: str) -> str | None:
    """Why pip must not be pointed at this source, naming what is allowed; never quoting it (it may hold a token)."""
    form = None if len(source) > SOURCE_LIMIT else GIT_SOURCE.fullmatch(source) or ARCHIVE_SOURCE.fullmatch(source)
    if "@" in source.split("://", 1)[-1].split("/", 1)[0]:
        return f"{WHY}: holds a user name or token before the host, which would be written into the project"
    if form is None:
        return f"{WHY}: is not a pinned https direct reference; allowed: {ALLOWED}"
    authority = form.group("authority")
    try:
        checked_host_port(authority, allowed=ALLOWED)
    except ValueError as refused:
        return f"{WHY}: {refused}"
    if documentation_host(authority.split(":", 1)[0]):
        return f"{WHY}: names a host reserved for documentation, where nothing is served; allowed: {ALLOWED}"
    return None


def installed_source() -> str:
    """The direct reference the running slm-deploy was installed from (PEP 610), or "" when pip recorded none a
    project can install from: an index install, an editable install, a local folder or file."""
    try:
        recorded = distribution("slm-deploy").read_text("direct_url.json")
    except PackageNotFoundError:
        return ""
    if not recorded:
        return ""
    origin = json.loads(recorded)
    url, vcs, archive = origin.get("url", ""), origin.get("vcs_info"), origin.get("archive_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return f"git+{url}@{vcs['commit_id']}"
    if isinstance(archive, dict) and not url.startswith("file:"):
        sha256 = _archive_sha256(archive)
        return f"{url.split('#', 1)[0]}#sha256={sha256}" if sha256 else url
    return ""


def _archive_sha256(archive: dict[str, object]) -> str:
    """The archive's sha256 as pip records it: `hashes` (current PEP 610) or the older single `hash`."""
    hashes = archive.get("hashes")
    algorithm, _, digest = str(archive.get("hash", "")).partition("=")
    recorded = hashes.get("sha256") if isinstance(hashes, dict) else None
    return str(recorded) if recorded else (digest if algorithm == "sha256" else "")


def project_source(answer: str) -> str:
    """The slm_deploy_source answer, or when it is empty the source derived from this installation ("" if none)."""
    return answer or installed_source()


def project_source_problem(answer: str) -> str | None:
    """Why the project cannot be given a source from this answer and installation, naming what to set instead."""
    source = project_source(answer)
    if source:
        return source_problem(source)
    return (f"{WHY}: this slm-deploy was installed from a package index, an editable checkout or a local folder or "
            f"file, none of which a project's CI can install from: set slm_deploy_source to {ALLOWED}")
