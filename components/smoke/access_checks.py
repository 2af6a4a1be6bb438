"""Who may use the endpoint: keys refused and accepted, and /metrics reachable only where it should be."""

from __future__ import annotations

from slm_deploy.smoke.session import CheckFailed, CheckSkipped, SmokeSession

REFUSED = (401, 403)
PROBE_PATH = "/v1/models"


def _auth_expected(session: SmokeSession) -> bool:
    expected = session.expect.auth
    if expected is False:
        raise CheckSkipped("the spec turns auth off (serving.auth.enabled: false)")
    if expected is None and session.key is None:
        raise CheckSkipped("no --spec and no --api-key-file, so auth is not tested")
    return True


def _refused(session: SmokeSession, headers: dict[str, str], what: str) -> str:
    response = session.client.get(session.url(PROBE_PATH), headers=headers)
    if response.status_code not in REFUSED:
        raise CheckFailed(f"GET {PROBE_PATH} {what} answered {response.status_code}, expected 401 or 403")
    return f"{what}: {response.status_code}"


def check_no_key_refused(session: SmokeSession) -> str:
    """A request without a key is refused."""
    _auth_expected(session)
    return _refused(session, {}, "without a key")


def check_key_accepted(session: SmokeSession) -> str:
    """The configured key is accepted."""
    _auth_expected(session)
    if session.key is None:
        raise CheckFailed("auth is on, but no --api-key-file was given to present a key")
    response = session.client.get(session.url(PROBE_PATH), headers=session.headers())
    if response.status_code != 200:
        raise CheckFailed(session.describe(response, f"GET {PROBE_PATH} with the key"))
    return f"key id {session.key.key_id}: 200" if session.key.key_id else "200"


def check_wrong_key_refused(session: SmokeSession) -> str:
    """A well-formed key that is not on file is refused."""
    _auth_expected(session)
    return _refused(session, session.headers(session.wrong_key), "with a wrong key")


def _is_exposition(text: str) -> bool:
    return any(line.startswith(("# TYPE ", "# HELP ")) for line in text.splitlines())


def check_metrics_public(session: SmokeSession) -> str:
    """GET /metrics on the client endpoint answers Prometheus text only where the deployment serves it there."""
    expected = session.expect.metrics_public
    if expected is None:
        raise CheckSkipped("no --spec, so where metrics belong is unknown")
    response = session.client.get(session.url("/metrics"))
    exposed = response.status_code == 200 and _is_exposition(response.text)
    if exposed and not expected:
        raise CheckFailed("GET /metrics on the client endpoint serves Prometheus metrics to anyone without a key")
    if expected and not exposed:
        raise CheckFailed(session.describe(response, "GET /metrics (the runtime's scrape target)"))
    return "served (the runtime's scrape target)" if exposed else f"not served here ({response.status_code})"


def check_metrics_scrape(session: SmokeSession) -> str:
    """The scrape URL Prometheus uses answers Prometheus text."""
    if not session.metrics_url:
        raise CheckSkipped("no --metrics-url given")
    response = session.client.get(session.metrics_url)
    if response.status_code != 200 or not _is_exposition(response.text):
        raise CheckFailed(session.describe(response, "GET --metrics-url"))
    series = sum(1 for line in response.text.splitlines() if line and not line.startswith("#"))
    return f"{series} samples"
