"""Probes and lifecycle hooks run as the kubelet runs them.

httpGet and tcpSocket go from the node to the pod's IP (a server listening on 127.0.0.1 only, or on
another port, fails them just as it would in a cluster); exec runs inside the container and fails on a
non-zero exit or when it outlives timeoutSeconds. Success for httpGet is a status from 200 to 399.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.docker_engine import docker_cli

from .containers import Unsupported, port_number

DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
            "failureThreshold": 3}


@dataclass(frozen=True)
class Outcome:
    """One probe or hook run."""

    ok: bool
    detail: str


def setting(probe: Mapping[str, Any], name: str) -> float:
    return float(probe.get(name, DEFAULTS[name]))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The kubelet counts a redirect to another host as success without following it; so does this."""

    def redirect_request(self, *args: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def run_action(action: Mapping[str, Any], container: Mapping[str, Any], container_id: str, pod_ip: str,
               timeout: float) -> Outcome:
    """Run one httpGet, tcpSocket or exec action (a probe's or a lifecycle hook's)."""
    if "httpGet" in action:
        get = action["httpGet"]
        if get.get("scheme", "HTTP") != "HTTP":
            raise Unsupported(f"httpGet scheme {get['scheme']}")
        host = get.get("host") or pod_ip
        url = f"http://{host}:{port_number(container, get['port'])}{get.get('path', '/')}"
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}
        try:
            with _OPENER.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:
            return Outcome(False, f"GET {url}: {error}")
        return Outcome(200 <= status < 400, f"GET {url}: {status}")
    if "tcpSocket" in action:
        port = port_number(container, action["tcpSocket"]["port"])
        try:
            socket.create_connection((pod_ip, port), timeout=timeout).close()
        except OSError as error:
            return Outcome(False, f"connect {pod_ip}:{port}: {error}")
        return Outcome(True, f"connect {pod_ip}:{port}")
    if "exec" in action:
        command = [docker_cli(), "exec", container_id, *action["exec"]["command"]]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Outcome(False, f"exec timed out after {timeout:g}s")
        output = (result.stdout + result.stderr).strip()[-500:]
        return Outcome(result.returncode == 0, f"exit {result.returncode}: {output}")
    raise Unsupported(f"probe or hook action {sorted(action)}")


class Prober(threading.Thread):
    """Polls one probe of one container on its period and reports threshold crossings."""

    def __init__(self, kind: str, probe: Mapping[str, Any], run: Callable[[float], Outcome],
                 stopped: threading.Event, on_result: Callable[[str, Outcome, int, int], None],
                 after: threading.Event | None = None) -> None:
        super().__init__(daemon=True, name=f"probe-{kind}")
        self.kind, self.probe, self.run_once = kind, probe, run
        self.stopped, self.on_result, self.after = stopped, on_result, after

    def run(self) -> None:
        if self.after is not None:
            while not self.after.wait(0.2):
                if self.stopped.is_set():
                    return
        if self.stopped.wait(setting(self.probe, "initialDelaySeconds")):
            return
        successes = failures = 0
        while not self.stopped.is_set():
            started = time.monotonic()
            outcome = self.run_once(setting(self.probe, "timeoutSeconds"))
            successes, failures = (successes + 1, 0) if outcome.ok else (0, failures + 1)
            self.on_result(self.kind, outcome, successes, failures)
            elapsed = time.monotonic() - started
            if self.stopped.wait(max(0.0, setting(self.probe, "periodSeconds") - elapsed)):
                return
