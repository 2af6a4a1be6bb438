"""The pod harness turns a container spec into exactly the Docker options the kubelet's semantics imply."""

from __future__ import annotations

import pytest

from tests.support.kubelet.containers import (
    Unsupported, cpu_cores, entrypoint_and_arguments, memory_bytes, port_number, run_options,
)

POD = {"securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                           "seccompProfile": {"type": "RuntimeDefault"}}}
CONTAINER = {
    "name": "server", "image": "example", "command": ["/app/llama-server"], "args": ["--port", "8080"],
    "env": [{"name": "HOME", "value": "/var/cache/slm"}],
    "resources": {"limits": {"cpu": "500m", "memory": "1024Mi"}},
    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}},
}


def test_security_limits_and_environment_follow_the_spec() -> None:
    options = run_options(POD, CONTAINER, image_user="")
    assert options == ["--user", "10001:10001", "--group-add", "10001", "--read-only", "--cap-drop=ALL",
                       "--security-opt", "no-new-privileges:true", "--memory", str(2**30), "--memory-swap",
                       str(2**30), "--cpus", "0.5", "--env", "HOME=/var/cache/slm"]


def test_command_replaces_entrypoint_and_cmd_args_replace_only_cmd() -> None:
    assert entrypoint_and_arguments(CONTAINER) == (["--entrypoint", "/app/llama-server"], ["--port", "8080"])
    assert entrypoint_and_arguments({"args": ["-x"]}) == ([], ["-x"])
    assert entrypoint_and_arguments({"command": ["sh", "-c", "true"]}) == (["--entrypoint", "sh"], ["-c", "true"])


def test_run_as_non_root_refuses_what_the_kubelet_refuses() -> None:
    pod = {"securityContext": {"runAsNonRoot": True}}
    with pytest.raises(PermissionError, match="will run as root"):
        run_options(pod, {"name": "c", "image": "x"}, image_user="")
    with pytest.raises(PermissionError, match="non-numeric"):
        run_options(pod, {"name": "c", "image": "x"}, image_user="app")
    assert run_options(pod, {"name": "c", "image": "x"}, image_user="10001") == []


def test_what_cannot_be_honoured_is_refused_by_name() -> None:
    with pytest.raises(Unsupported, match="extended resources"):
        run_options({}, {"name": "c", "resources": {"limits": {"nvidia.com/gpu": 1}}}, image_user="1")
    with pytest.raises(Unsupported, match="without a literal value"):
        run_options({}, {"name": "c", "env": [{"name": "X", "valueFrom": {}}]}, image_user="1")
    with pytest.raises(Unsupported, match="fields"):
        run_options({}, {"name": "c", "stdin": True}, image_user="1")


def test_quantities_and_named_ports() -> None:
    assert memory_bytes("3Gi") == 3 * 2**30 and memory_bytes("512M") == 512 * 10**6 and memory_bytes(64) == 64
    assert cpu_cores("250m") == cpu_cores("0.25")
    assert port_number({"ports": [{"name": "metrics", "containerPort": 9464}]}, "metrics") == 9464
