"""Pod volumes as the kubelet provides them, made of Docker volumes and host folders.

- emptyDir: a fresh Docker volume per pod, world-writable like the kubelet's; ``medium: Memory`` is a
  tmpfs of ``sizeLimit`` bytes; a disk emptyDir's ``sizeLimit`` is enforced the kubelet's way, by
  measuring its use and evicting the pod (see `usage_bytes`).
- persistentVolumeClaim: the claim's Docker volume, shared by every pod of the cluster that names it.
- configMap and projected secrets: files written to a host folder with the volume's mode, mounted read-only.
With ``fsGroup`` the kubelet hands emptyDir and claim contents to that group (setgid folders) and makes
secret files group-owned by it; the harness does the same.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.docker_engine import docker

from .containers import Unsupported, memory_bytes

EMPTY_DIR_MODE = 0o777
DEFAULT_FILE_MODE = 0o644


@dataclass
class PodVolumes:
    """What each named pod volume is on this host, and what to remove when the pod goes."""

    sources: dict[str, str] = field(default_factory=dict)
    """volume name -> Docker volume name or host folder."""
    size_limits: dict[str, int] = field(default_factory=dict)
    """disk emptyDir name -> sizeLimit bytes, watched for eviction."""
    owned_volumes: list[str] = field(default_factory=list)
    owned_folders: list[Path] = field(default_factory=list)

    def mount_options(self, mounts: list[Mapping[str, Any]], read_only_kinds: set[str]) -> list[str]:
        """`--mount` options for a container's volumeMounts."""
        options = []
        for mount in mounts:
            if mount.get("subPath") or mount.get("subPathExpr"):
                raise Unsupported(f"volumeMount {mount['name']}: subPath")
            source = self.sources.get(mount["name"])
            if source is None:
                raise Unsupported(f"volumeMount {mount['name']} names no volume of the pod")
            kind = "bind" if source.startswith("/") else "volume"
            read_only = mount.get("readOnly") or mount["name"] in read_only_kinds
            options += ["--mount", f"type={kind},source={source},target={mount['mountPath']}"
                        + (",readonly" if read_only else "")]
        return options

    def remove(self) -> None:
        for name in self.owned_volumes:
            docker("volume", "rm", "--force", name)
        for folder in self.owned_folders:
            shutil.rmtree(folder, ignore_errors=True)


def volume_path(name: str) -> Path:
    """Where the engine keeps a local volume's files (this harness runs beside a root dockerd)."""
    return Path(json.loads(docker("volume", "inspect", name))[0]["Mountpoint"])


def usage_bytes(name: str) -> int:
    """Bytes used in a disk-backed volume, counted as the kubelet's eviction manager counts them."""
    total = 0
    for folder, _, files in os.walk(volume_path(name)):
        for file_name in files:
            path = Path(folder) / file_name
            if not path.is_symlink():
                total += path.stat().st_blocks * 512
    return total


def hand_to_group(root: Path, group: int) -> None:
    """The kubelet's volume ownership change for fsGroup: group-owned, group-writable, setgid folders."""
    for folder, dirs, files in os.walk(root):
        for path in [Path(folder), *(Path(folder) / d for d in dirs), *(Path(folder) / f for f in files)]:
            if path.is_symlink():
                continue
            os.chown(path, -1, group)
            mode = path.stat().st_mode
            extra = 0o2070 if path.is_dir() else 0o060
            os.chmod(path, (mode | extra) & 0o7777)


def prepare(pod_name: str, label: str, volumes: list[Mapping[str, Any]], *, fs_group: int | None,
            claims: Mapping[str, str], config_maps: Mapping[str, Mapping[str, str]],
            secrets: Mapping[str, Mapping[str, str]]) -> tuple[PodVolumes, set[str]]:
    """Create every volume of the pod; returns them and the names that are always mounted read-only."""
    made = PodVolumes()
    read_only: set[str] = set()
    try:
        for volume in volumes:
            name = volume["name"]
            if "emptyDir" in volume:
                made.sources[name] = _empty_dir(pod_name, label, name, volume["emptyDir"] or {}, fs_group, made)
            elif "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                if claim not in claims:
                    raise Unsupported(f"volume {name}: claim {claim} is not bound in this cluster")
                if fs_group is not None:
                    hand_to_group(volume_path(claims[claim]), fs_group)
                made.sources[name] = claims[claim]
            elif "configMap" in volume:
                body = volume["configMap"]
                files = _pick(config_maps, body["name"], body.get("items"), f"configMap {body['name']}")
                made.sources[name] = _folder(made, files, body.get("defaultMode", DEFAULT_FILE_MODE), None)
                read_only.add(name)
            elif "projected" in volume or "secret" in volume:
                files, mode = _secret_files(volume, secrets)
                made.sources[name] = _folder(made, files, mode, fs_group)
                read_only.add(name)
            else:
                raise Unsupported(f"volume {name}: kind {sorted(set(volume) - {'name'})}")
    except BaseException:
        made.remove()
        raise
    return made, read_only


def _empty_dir(pod_name: str, label: str, name: str, body: Mapping[str, Any], fs_group: int | None,
               made: PodVolumes) -> str:
    volume = f"{pod_name}-{name}"
    argv = ["volume", "create", "--label", label]
    if body.get("medium") == "Memory":
        size = f",size={memory_bytes(body['sizeLimit'])}" if "sizeLimit" in body else ""
        group = f",gid={fs_group}" if fs_group is not None else ""
        mode = "2777" if fs_group is not None else "0777"
        argv += ["--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
                 "--opt", f"o=mode={mode}{group}{size}"]
    elif body.get("medium"):
        raise Unsupported(f"emptyDir {name}: medium {body['medium']}")
    docker(*argv, volume)
    made.owned_volumes.append(volume)
    if body.get("medium") != "Memory":
        path = volume_path(volume)
        os.chmod(path, EMPTY_DIR_MODE)
        if fs_group is not None:
            hand_to_group(path, fs_group)
        if "sizeLimit" in body:
            made.size_limits[name] = memory_bytes(body["sizeLimit"])
    return volume


def _pick(store: Mapping[str, Mapping[str, str]], name: str, items: list | None, what: str) -> dict[str, str]:
    if name not in store:
        raise Unsupported(f"{what} does not exist in this cluster")
    data = store[name]
    if not items:
        return dict(data)
    missing = [item["key"] for item in items if item["key"] not in data]
    if missing:
        raise Unsupported(f"{what} has no keys {missing}")
    return {item["path"]: data[item["key"]] for item in items}


def _secret_files(volume: Mapping[str, Any], secrets: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, str], int]:
    if "secret" in volume:
        body = volume["secret"]
        return _pick(secrets, body["secretName"], body.get("items"), f"secret {body['secretName']}"), \
            body.get("defaultMode", DEFAULT_FILE_MODE)
    body = volume["projected"]
    files: dict[str, str] = {}
    for source in body.get("sources", []):
        if set(source) != {"secret"}:
            raise Unsupported(f"projected source {sorted(source)}")
        secret = source["secret"]
        files |= _pick(secrets, secret["name"], secret.get("items"), f"secret {secret['name']}")
    return files, body.get("defaultMode", DEFAULT_FILE_MODE)


def _folder(made: PodVolumes, files: Mapping[str, str], mode: int, group: int | None) -> str:
    folder = Path(tempfile.mkdtemp(prefix="kubelet-volume-"))
    made.owned_folders.append(folder)
    os.chmod(folder, 0o755)
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, mode)
        if group is not None:
            os.chown(path, 0, group)
    return str(folder)
