"""Volumes as host directories, and the path rewriting that makes a host process see them.

A container's process runs on the host, so ``/migrations`` cannot be a mount. Instead
each volume is a directory under the Pod's work directory and every container path
under a ``mountPath`` is rewritten to the host directory, wherever it appears in the
command, the arguments, the environment values or ``workingDir``: as a whole word
(``--dir /migrations``) or inside shell text (``cp -R "$SRC"/. /migrations/``,
``echo x > /dev/termination-log``). The longest mount wins (``/data/cache`` before
``/data``). A path the program builds at run time from pieces is not seen: that is
the one limit of running without mount namespaces. The way back too: host paths in
a container's termination message are told as its container paths.

configMap and secret volumes are written once, when the Pod starts (``items`` and
``subPath`` honoured; modes, projected and downward-API volumes are not modelled);
emptyDir is an empty directory shared by the Pod's containers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from .env import ConfigError, configmap_data, secret_data

JsonDict = dict[str, Any]
Lookup = Callable[[str, str], JsonDict | None]  # (kind "Secret"|"ConfigMap", name) -> object

_BEFORE = r"(?<![A-Za-z0-9_.\-/])"  # a path starts at a word boundary, not mid-path
_AFTER = r"(?![A-Za-z0-9_.\-])"  # and ends at one, or continues with "/"


def references(pod_spec: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The Secrets and ConfigMaps the Pod's volumes read."""
    secrets: set[str] = set()
    configmaps: set[str] = set()
    for volume in pod_spec.get("volumes") or []:
        if volume.get("secret"):
            secrets.add(volume["secret"].get("secretName", ""))
        if volume.get("configMap"):
            configmaps.add(volume["configMap"].get("name", ""))
    return secrets, configmaps


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts:
        raise ConfigError(f"invalid volume item path {path!r}")
    return relative


def _write_items(target: Path, data: Mapping[str, bytes], items: list[JsonDict] | None) -> None:
    if items:
        chosen = {
            item["key"]: item.get("path", item["key"]) for item in items if item.get("key") in data
        }
    else:
        chosen = {key: key for key in data}
    for key, relative in chosen.items():
        destination = target / _safe_relative(str(relative))
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data[key])


def materialise(
    pod_spec: Mapping[str, Any],
    root: Path,
    secrets: Mapping[str, JsonDict | None],
    configmaps: Mapping[str, JsonDict | None],
) -> dict[str, Path]:
    """Create every volume under ``root``; returns volume name -> host directory.

    Raises :class:`ConfigError` like the kubelet's ``MountVolume.SetUp failed`` when a
    non-optional source is missing, or for a volume type this stand-in cannot provide.
    """
    result: dict[str, Path] = {}
    for volume in pod_spec.get("volumes") or []:
        name = volume["name"]
        target = root / name
        target.mkdir(parents=True, exist_ok=True)
        result[name] = target
        if "emptyDir" in volume:
            continue
        if volume.get("configMap") is not None:
            source = volume["configMap"]
            obj = configmaps.get(source.get("name", ""))
            if obj is None:
                if source.get("optional"):
                    continue
                raise ConfigError(
                    f'MountVolume.SetUp failed for volume "{name}" : '
                    f'configmap "{source.get("name")}" not found'
                )
            _check_items(name, source.get("items"), configmap_data(obj), source.get("optional"))
            _write_items(target, configmap_data(obj), source.get("items"))
        elif volume.get("secret") is not None:
            source = volume["secret"]
            obj = secrets.get(source.get("secretName", ""))
            if obj is None:
                if source.get("optional"):
                    continue
                raise ConfigError(
                    f'MountVolume.SetUp failed for volume "{name}" : '
                    f'secret "{source.get("secretName")}" not found'
                )
            _check_items(name, source.get("items"), secret_data(obj), source.get("optional"))
            _write_items(target, secret_data(obj), source.get("items"))
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise ConfigError(
                f'volume "{name}": type {kinds} is not supported by the devcluster kubelet'
            )
    return result


def _check_items(
    name: str, items: list[JsonDict] | None, data: Mapping[str, bytes], optional: Any
) -> None:
    for item in items or []:
        if item.get("key") not in data and not optional:
            raise ConfigError(
                f'MountVolume.SetUp failed for volume "{name}" : '
                f"configmap references non-existent config key: {item.get('key')}"
            )


def mounts(container: Mapping[str, Any], volumes: Mapping[str, Path]) -> dict[str, Path]:
    """The container's ``mountPath`` -> host path map (``subPath`` resolved)."""
    result: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        host = volumes.get(mount.get("name", ""))
        if host is None:
            raise ConfigError(f'volumeMount "{mount.get("name")}" refers to no volume of the pod')
        sub = mount.get("subPath")
        if sub:
            host = host / _safe_relative(str(sub))
            if not host.exists():
                host.mkdir(parents=True, exist_ok=True)
        path = str(mount.get("mountPath", "")).rstrip("/")
        if path:  # "/" cannot be mapped without a mount namespace
            result[path] = host
    return result


class PathRewriter:
    """Rewrites container paths in strings to host paths, longest mount first."""

    def __init__(self, mapping: Mapping[str, Path]) -> None:
        self.mapping = {path: str(host) for path, host in mapping.items()}
        ordered = sorted(self.mapping, key=len, reverse=True)
        self._pattern = (
            re.compile(_BEFORE + "(" + "|".join(re.escape(p) for p in ordered) + ")" + _AFTER)
            if ordered
            else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self.mapping[m.group(1)], text)

    def back(self, text: str) -> str:
        """Host paths in ``text`` as the container knows them: a real container's
        messages name its own paths (``/migrations/...``), never the node's."""
        for path, host in sorted(self.mapping.items(), key=lambda item: -len(item[1])):
            text = text.replace(host, path)
        return text

    def host_path(self, path: str) -> str | None:
        """The host path for a container path, or None when no mount covers it."""
        rewritten = self(path)
        return None if rewritten == path else rewritten
