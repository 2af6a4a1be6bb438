"""One pod run the way the kubelet runs it: sandbox, init containers in order, containers, probes, shutdown.

The pod's network namespace belongs to a small sandbox container (the kubelet's pause container): every
container joins it, so they share localhost, and the sandbox carries the DNS names of the Services that
select the pod. Init containers run one after another and must each exit 0. Then the containers start
and their probes run on their own schedules: the startup probe first, liveness and readiness only after
it succeeds. Failures the kubelet would act on (a startup or liveness probe over its threshold, a
container that exits, an emptyDir over its sizeLimit) are recorded as events and make `wait_ready` fail.

`terminate` follows the kubelet's shutdown: each container's preStop hook runs with the whole
terminationGracePeriodSeconds as its deadline, then the container gets SIGTERM and whatever grace is
left (at least 2 s), then SIGKILL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.support.docker_engine import DockerCommandError, docker, docker_cli
from tests.support.tools import run

from . import volumes as pod_volumes
from .containers import Unsupported, entrypoint_and_arguments, run_options
from .probes import Outcome, Prober, run_action, setting

if TYPE_CHECKING:
    from .cluster import Cluster

POD_FIELDS = frozenset({
    "serviceAccountName", "automountServiceAccountToken", "enableServiceLinks", "securityContext",
    "initContainers", "containers", "volumes", "terminationGracePeriodSeconds", "topologySpreadConstraints",
    "restartPolicy", "nodeSelector", "tolerations",
})
DEFAULT_GRACE_SECONDS = 30
MINIMUM_GRACE_SECONDS = 2
"""After a preStop hook used up the grace period, the kubelet still gives SIGTERM this long."""
SIZE_CHECK_SECONDS = 2


class PodFailed(AssertionError):
    """The kubelet would have restarted, evicted or never started this pod."""


@dataclass
class Termination:
    """How one container's shutdown went."""

    container: str
    prestop_seconds: float | None = None
    prestop_outcome: Outcome | None = None
    prestop_finished: bool = True
    sigterm_to_exit_seconds: float = 0.0
    killed: bool = False
    exit_code: int | None = None


@dataclass
class Pod:
    """A running pod; build it with `Cluster.run_pod` or `Cluster.run_job`."""

    cluster: "Cluster"
    name: str
    spec: Mapping[str, Any]
    labels: Mapping[str, str]
    aliases: list[str]
    events: list[str] = field(default_factory=list)
    ready: dict[str, bool] = field(default_factory=dict)
    started: dict[str, bool] = field(default_factory=dict)
    container_ids: dict[str, str] = field(default_factory=dict)
    ip: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.spec) - POD_FIELDS)
        if unknown:
            raise Unsupported(f"pod {self.name}: fields {unknown}")
        self._stopped = threading.Event()
        self._failed = threading.Event()
        self._lock = threading.Lock()
        self._volumes: pod_volumes.PodVolumes | None = None
        self._read_only: set[str] = set()
        self._sandbox = f"{self.name}-sandbox"
        self._threads: list[threading.Thread] = []
        self._probe_stops: dict[tuple[str, str], threading.Event] = {}
        self.last_outcome: dict[tuple[str, str], Outcome] = {}

    # --- start ------------------------------------------------------------------------------------

    def start(self) -> "Pod":
        """Schedule, create volumes and sandbox, run init containers to completion, start the containers."""
        self._check_scheduling()
        context = self.spec.get("securityContext") or {}
        self._volumes, read_only = pod_volumes.prepare(
            self.name, self.cluster.label, list(self.spec.get("volumes") or []),
            fs_group=context.get("fsGroup"), claims=self.cluster.claims, config_maps=self.cluster.config_maps,
            secrets=self.cluster.secrets)
        self._read_only = read_only
        self._start_sandbox()
        for container in self.spec.get("initContainers") or []:
            code = self._run_to_completion(container)
            if code != 0:
                raise PodFailed(f"init container {container['name']} exited {code}\n{self.logs(container['name'])}")
        for container in self.spec["containers"]:
            self.container_ids[container["name"]] = self._create(container)
            docker("start", self.container_ids[container["name"]])
            self._watch(container)
        return self

    def _check_scheduling(self) -> None:
        wanted = self.spec.get("nodeSelector") or {}
        missing = {k: v for k, v in wanted.items() if self.cluster.node_labels.get(k) != v}
        if missing:
            raise PodFailed(f"pod {self.name} is unschedulable: no node has labels {missing}")

    def _start_sandbox(self) -> None:
        argv = ["run", "--detach", "--name", self._sandbox, "--label", self.cluster.label,
                "--hostname", self.name[:63], "--network", self.cluster.network,
                "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
                "--user", "65535:65535", "--entrypoint", "sleep"]
        for alias in self.aliases:
            argv += ["--network-alias", alias]
        docker(*argv, self.cluster.sandbox_image, "infinity")
        inspected = json.loads(docker("inspect", self._sandbox))[0]
        self.ip = inspected["NetworkSettings"]["Networks"][self.cluster.network]["IPAddress"]

    def _create(self, container: Mapping[str, Any]) -> str:
        image = self.cluster.pull(container["image"], container.get("imagePullPolicy", "IfNotPresent"))
        image_user = docker("image", "inspect", "--format", "{{.Config.User}}", image).strip()
        options = run_options(self.spec, container, image_user=image_user)
        mounts = self._volumes.mount_options(list(container.get("volumeMounts") or []), self._read_only)
        entrypoint, arguments = entrypoint_and_arguments(container)
        name = f"{self.name}-{container['name']}"
        docker("create", "--name", name, "--label", self.cluster.label, "--network", f"container:{self._sandbox}",
               *options, *mounts, *entrypoint, image, *arguments)
        return name

    def _run_to_completion(self, container: Mapping[str, Any]) -> int:
        self.container_ids[container["name"]] = container_id = self._create(container)
        result = run([docker_cli(), "start", "--attach", container_id], timeout=self.cluster.init_timeout)
        if result.returncode != 0 and "exited" not in self._state(container_id).get("Status", ""):
            raise PodFailed(f"init container {container['name']} did not run: {result.stderr.strip()}")
        return int(self._state(container_id)["ExitCode"])

    def _state(self, container_id: str) -> dict[str, Any]:
        return json.loads(docker("inspect", "--format", "{{json .State}}", container_id))

    # --- probes -----------------------------------------------------------------------------------

    def _watch(self, container: Mapping[str, Any]) -> None:
        name = container["name"]
        startup_done = threading.Event()
        self.started[name] = "startupProbe" not in container
        self.ready[name] = "readinessProbe" not in container
        if self.started[name]:
            startup_done.set()

        def check(action: Mapping[str, Any]):
            return lambda timeout: run_action(action, container, self.container_ids[name], self.ip, timeout)

        def report(kind: str, outcome: Outcome, successes: int, failures: int) -> None:
            probe = container[kind]
            with self._lock:
                if kind == "startupProbe":
                    if outcome.ok:
                        self.started[name] = True
                        startup_done.set()
                        self._probe_stops[(name, kind)].set()
                    elif failures >= setting(probe, "failureThreshold"):
                        self._fail(f"{name}: startup probe failed {failures} times ({outcome.detail}); "
                                   f"the kubelet kills and restarts the container")
                elif kind == "livenessProbe" and failures >= setting(probe, "failureThreshold"):
                    self._fail(f"{name}: liveness probe failed {failures} times ({outcome.detail}); "
                               f"the kubelet restarts the container")
                elif kind == "readinessProbe":
                    if outcome.ok and successes >= setting(probe, "successThreshold"):
                        self.ready[name] = True
                    elif failures >= setting(probe, "failureThreshold"):
                        if self.ready[name]:
                            self.events.append(f"{name}: not ready ({outcome.detail})")
                        self.ready[name] = False
                self.last_outcome[(name, kind)] = outcome

        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            if kind in container:
                stop = threading.Event()
                self._probe_stops[(name, kind)] = stop
                after = None if kind == "startupProbe" else startup_done
                self._spawn(Prober(kind, container[kind], check(container[kind]), stop, report, after))
        self._spawn(threading.Thread(target=self._supervise, args=(name,), daemon=True))

    def _spawn(self, thread: threading.Thread) -> None:
        self._threads.append(thread)
        thread.start()

    def _supervise(self, name: str) -> None:
        """Notice a container that exits and an emptyDir that outgrows its sizeLimit, as the kubelet does."""
        while not self._stopped.wait(SIZE_CHECK_SECONDS):
            state = self._state(self.container_ids[name])
            if not state.get("Running") and not self._stopped.is_set():
                completed = state.get("ExitCode") == 0 and self.spec.get("restartPolicy", "Always") != "Always"
                if not completed:
                    self._fail(f"{name}: exited with code {state.get('ExitCode')} "
                               f"(OOMKilled={state.get('OOMKilled')})\n{self.logs(name, 10)}")
                return
            for volume, limit in self._volumes.size_limits.items():
                used = pod_volumes.usage_bytes(f"{self.name}-{volume}")
                if used > limit:
                    self._fail(f"evicted: emptyDir {volume} uses {used} bytes, over its sizeLimit of {limit}")
                    return

    def _fail(self, event: str) -> None:
        self.events.append(event)
        self._failed.set()

    def wait_ready(self, timeout: float) -> None:
        """Block until every container has passed its startup probe and is ready; fail on any kubelet action."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._failed.is_set():
                raise PodFailed(self.describe())
            if all(self.started.values()) and all(self.ready.values()):
                return
            time.sleep(0.2)
        raise PodFailed(f"not ready after {timeout:g}s\n{self.describe()}")

    def healthy(self) -> bool:
        """No event so far that the kubelet would act on."""
        return not self._failed.is_set()

    def wait_completed(self, timeout: float) -> None:
        """For Job pods: every container exits 0 within the time."""
        for name, container_id in self.container_ids.items():
            if name in {c["name"] for c in self.spec.get("initContainers") or []}:
                continue
            result = run([docker_cli(), "wait", container_id], timeout=timeout)
            code = result.stdout.strip()
            if code != "0":
                raise PodFailed(f"{name} exited {code or result.stderr.strip()}\n{self.logs(name)}")

    def describe(self) -> str:
        """Events, last probe results and log tails, for assertion messages."""
        lines = [f"pod {self.name} ({self.ip}): started={self.started} ready={self.ready}", *self.events]
        lines += [f"last {kind} of {name}: {outcome.detail}" for (name, kind), outcome in
                  sorted(self.last_outcome.items())]
        for name in self.container_ids:
            lines += [f"--- logs of {name}", self.logs(name)]
        return "\n".join(lines)

    def logs(self, name: str, lines: int = 40) -> str:
        result = run([docker_cli(), "logs", "--tail", str(lines), self.container_ids[name]], timeout=60)
        return (result.stdout + result.stderr).strip()

    # --- stop -------------------------------------------------------------------------------------

    def terminate(self) -> dict[str, Termination]:
        """Delete the pod: preStop hooks, then SIGTERM within the grace period, then SIGKILL."""
        grace = float(self.spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))
        self._stopped.set()
        for stop in self._probe_stops.values():
            stop.set()
        containers = [c for c in self.spec["containers"] if c["name"] in self.container_ids]
        with ThreadPoolExecutor(max_workers=max(1, len(containers))) as pool:
            results = list(pool.map(lambda c: self._kill(c, grace), containers))
        return {result.container: result for result in results}

    def _kill(self, container: Mapping[str, Any], grace: float) -> Termination:
        name, container_id = container["name"], self.container_ids[container["name"]]
        result = Termination(name)
        hook = ((container.get("lifecycle") or {}).get("preStop"))
        if hook and self._state(container_id).get("Running"):
            started = time.monotonic()
            result.prestop_outcome = run_action(hook, container, container_id, self.ip, grace)
            result.prestop_seconds = time.monotonic() - started
            result.prestop_finished = not result.prestop_outcome.detail.startswith("exec timed out")
            if not result.prestop_outcome.ok:
                self.events.append(f"{name}: FailedPreStopHook ({result.prestop_outcome.detail})")
            grace = max(MINIMUM_GRACE_SECONDS, grace - result.prestop_seconds)
        started = time.monotonic()
        docker("stop", "--time", str(int(grace + 0.999)), container_id, timeout=grace + 60)
        result.sigterm_to_exit_seconds = time.monotonic() - started
        state = self._state(container_id)
        result.exit_code = int(state.get("ExitCode", -1))
        result.killed = result.exit_code == 137 and result.sigterm_to_exit_seconds >= grace
        return result

    def remove(self) -> None:
        """Remove the pod's containers, sandbox and volumes (claims stay with the cluster)."""
        self._stopped.set()
        for stop in self._probe_stops.values():
            stop.set()
        for container_id in [*self.container_ids.values(), self._sandbox]:
            try:
                docker("rm", "--force", "--volumes", container_id)
            except DockerCommandError as error:
                if "No such container" not in str(error):
                    raise
        if self._volumes is not None:
            self._volumes.remove()
