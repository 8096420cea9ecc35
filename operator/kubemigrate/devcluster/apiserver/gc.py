"""The garbage collector and namespace controller, run eventually, like the real ones.

After every write a background sweep (never inline with the request, so a client
that assumes instant cascading fails here as it would on a real cluster):

- an object whose owners (by ``ownerReferences[].uid``, in its own namespace or
  cluster-scoped) are all gone is deleted in the background; references to owners
  that are gone are dropped from objects that still have a live owner;
- an owner being deleted with ``foregroundDeletion`` has its dependents deleted
  (foreground, transitively) and loses the finalizer once none are left;
- an owner being deleted with ``orphan`` has its references removed from its
  dependents and then loses the finalizer;
- a Terminating namespace has its contents deleted, then is removed.

Every such delete is a plain DELETE with no grace period given, as the real
collector's: a running Pod is therefore marked with its own
``terminationGracePeriodSeconds`` and goes only once its kubelet has stopped it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from . import deleting
from .cluster import NS_KEY, Cluster, WriteOptions
from .errors import ApiError
from .resources import ResourceType
from .store import json_copy

JsonDict = dict[str, Any]
log = logging.getLogger(__name__)

SWEEP_INTERVAL = 0.05


class Collector:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._types: dict[tuple[str, str], ResourceType] = {}
        cluster.wake_collector = self._wakeup.set

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                self.sweep()
            except Exception:  # keep collecting; a bug here must not stop the server
                log.exception("garbage collection sweep failed")
            # A sweep reads every object: after a burst of writes, one sweep per interval
            # (the real collector lags by far more) rather than one per write.
            await asyncio.sleep(SWEEP_INTERVAL)

    def _rtype_of(self, storage: tuple[str, str]) -> ResourceType | None:
        """``Cluster.rtype_of``, from a map built once per sweep (and again if a write
        made during the sweep changed what is served)."""
        rtype = self._types.get(storage)
        types = self.cluster.catalogue.types
        if rtype is None or types.get((rtype.group, rtype.version, rtype.plural)) is not rtype:
            self._types = {}
            for served in types.values():
                self._types.setdefault(served.storage_key, served)
            rtype = self._types.get(storage)
        return rtype

    def _owners(
        self, stored: list[tuple[tuple[str, str], JsonDict]]
    ) -> dict[str, tuple[str, bool, JsonDict]]:
        """uid -> (namespace, namespaced, object) for every stored object."""
        found: dict[str, tuple[str, bool, JsonDict]] = {}
        for storage, obj in stored:
            rtype = self._rtype_of(storage)
            namespaced = rtype.namespaced if rtype else True
            found[obj["metadata"]["uid"]] = (obj["metadata"].get("namespace", ""), namespaced, obj)
        return found

    def sweep(self) -> None:
        # The store's own objects, uncopied: read-only here, and copied before any change.
        stored = self.cluster.store.all_objects()
        owners = self._owners(stored)
        for storage, obj in stored:
            meta = obj["metadata"]
            refs = meta.get("ownerReferences")
            if not refs and not meta.get("deletionTimestamp"):
                continue
            rtype = self._rtype_of(storage)
            if rtype is None:
                continue
            try:
                if meta.get("deletionTimestamp"):
                    self._finalize(rtype, obj, owners)
                if refs:
                    self._check_owners(rtype, obj, refs, owners)
            except ApiError:
                continue  # changed or gone meanwhile: the next sweep sees the new state

    def _alive(
        self, ref: JsonDict, namespace: str, owners: dict[str, tuple[str, bool, JsonDict]]
    ) -> bool:
        owner = owners.get(ref.get("uid", ""))
        if owner is None:
            return False
        owner_ns, namespaced, _ = owner
        return not namespaced or owner_ns == namespace

    def _check_owners(self, rtype: Any, obj: JsonDict, refs: list[JsonDict], owners: Any) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        alive = [r for r in refs if self._alive(r, namespace, owners)]
        if not alive:
            if not meta.get("deletionTimestamp"):
                self.cluster.delete(
                    rtype, namespace or None, meta["name"], deleting.BACKGROUND, WriteOptions()
                )
        elif len(alive) < len(refs):
            new = json_copy(obj)
            new["metadata"]["ownerReferences"] = json_copy(alive)
            self.cluster.update(
                rtype,
                namespace or None,
                meta["name"],
                new,
                None,
                WriteOptions(),
                old=json_copy(obj),
            )

    def _dependents(self, uid: str) -> list[tuple[Any, JsonDict]]:
        result = []
        for storage, obj in self.cluster.store.all_objects():
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                rtype = self._rtype_of(storage)
                if rtype is not None:
                    result.append((rtype, json_copy(obj)))
        return result

    def _drop_finalizer(self, rtype: Any, obj: JsonDict, finalizer: str) -> None:
        obj = json_copy(obj)
        new = json_copy(obj)
        new["metadata"]["finalizers"] = [
            f for f in new["metadata"].get("finalizers") or [] if f != finalizer
        ]
        meta = obj["metadata"]
        self.cluster.update(
            rtype, meta.get("namespace") or None, meta["name"], new, None, WriteOptions(), old=obj
        )

    def _finalize(self, rtype: Any, obj: JsonDict, owners: Any) -> None:
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if "orphan" in finalizers:
            for dep_type, dep in self._dependents(meta["uid"]):
                new = json_copy(dep)
                new["metadata"]["ownerReferences"] = [
                    r for r in dep["metadata"]["ownerReferences"] if r.get("uid") != meta["uid"]
                ]
                dep_meta = dep["metadata"]
                self.cluster.update(
                    dep_type,
                    dep_meta.get("namespace") or None,
                    dep_meta["name"],
                    new,
                    None,
                    WriteOptions(),
                    old=dep,
                )
            self._drop_finalizer(rtype, obj, "orphan")
        elif "foregroundDeletion" in finalizers:
            dependents = self._dependents(meta["uid"])
            if not dependents:
                self._drop_finalizer(rtype, obj, "foregroundDeletion")
            for dep_type, dep in dependents:
                dep_meta = dep["metadata"]
                if not dep_meta.get("deletionTimestamp"):
                    self.cluster.delete(
                        dep_type,
                        dep_meta.get("namespace") or None,
                        dep_meta["name"],
                        deleting.DeleteOptions(propagation="Foreground"),
                        WriteOptions(),
                    )
        if (rtype.group, rtype.plural) == NS_KEY:
            self._finalize_namespace(rtype, obj)

    def _finalize_namespace(self, rtype: Any, ns: JsonDict) -> None:
        name = ns["metadata"]["name"]
        remaining = 0
        for storage, obj in self.cluster.store.all_objects():
            if obj["metadata"].get("namespace") != name:
                continue
            remaining += 1
            dep_type = self._rtype_of(storage)
            if dep_type is not None and not obj["metadata"].get("deletionTimestamp"):
                self.cluster.delete(
                    dep_type, name, obj["metadata"]["name"], deleting.BACKGROUND, WriteOptions()
                )
        if remaining == 0 and not ns["metadata"].get("finalizers"):
            new = json_copy(ns)
            new.setdefault("spec", {})["finalizers"] = []
            self.cluster.store.write(NS_KEY, new, "MODIFIED")
            latest = self.cluster.store.get(NS_KEY, "", name)
            if latest is not None:
                self.cluster.remove(rtype, latest)
