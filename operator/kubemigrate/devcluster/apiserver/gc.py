"""The garbage collector and namespace controller, run eventually, like the real ones.

After every write a background sweep (never inline with the request, so a client
that assumes instant cascading fails here as it would on a real cluster) does what
the real collector's ``attemptToDeleteItem`` and ``processDeletingDependentsItem``
do (pkg/controller/garbagecollector/garbagecollector.go). Each dependent's owners
(by ``ownerReferences[].uid``, in its own namespace or cluster-scoped) are sorted
into *dangling* (gone), *waiting* (being deleted with ``foregroundDeletion``) and
*solid* (any other), then:

- with a solid owner left, references to dangling and waiting owners are removed
  (the dependent stays);
- with none, the dependent is deleted: with propagation Foreground when an owner is
  waiting and the dependent has dependents of its own, else as its own finalizers
  say (``orphan``: Orphan, ``foregroundDeletion``: Foreground), else Background;
- an owner being deleted with ``orphan`` has its references removed from its
  dependents and then loses the finalizer;
- an owner being deleted with ``foregroundDeletion`` loses the finalizer once no
  dependent that *blocks* it (``blockOwnerDeletion: true`` on its reference) is left:
  dependents being deleted still block, non-blocking ones do not (they go after,
  as dangling);
- a Terminating namespace has its contents deleted, what is left written as its
  conditions (:mod:`.nsconditions`), then is removed;
- a CRD being deleted has its custom resources deleted, then is removed (the CRD
  finalizer controller's part, see :mod:`.crdcleanup`).

Every such delete is a plain DELETE with no grace period given, as the real
collector's: a running Pod is therefore marked with its own
``terminationGracePeriodSeconds`` and goes only once its kubelet has stopped it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from . import crdcleanup, deleting, nsconditions, objects
from .cluster import CRD_KEY, NS_KEY, Cluster, WriteOptions
from .deleting import FOREGROUND, ORPHAN
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
        referenced = {
            ref.get("uid")
            for _, obj in stored
            for ref in obj["metadata"].get("ownerReferences") or []
        }
        for storage, obj in stored:
            meta = obj["metadata"]
            refs = meta.get("ownerReferences")
            if not refs and not meta.get("deletionTimestamp"):
                continue
            rtype = self._rtype_of(storage)
            if rtype is None:
                continue
            try:
                # Being deleted is a one-way trip: only its own finalizers matter now.
                if meta.get("deletionTimestamp"):
                    self._finalize(rtype, obj)
                elif refs:
                    has_dependents = meta["uid"] in referenced
                    self._check_owners(rtype, obj, refs, owners, has_dependents)
            except ApiError:
                continue  # changed or gone meanwhile: the next sweep sees the new state

    @staticmethod
    def _owner_state(
        ref: JsonDict, namespace: str, owners: dict[str, tuple[str, bool, JsonDict]]
    ) -> str:
        """The owner's state as ``classifyReferences`` sorts it: dangling, waiting or solid."""
        owner = owners.get(ref.get("uid", ""))
        if owner is None:
            return "dangling"
        owner_ns, namespaced, obj = owner
        if namespaced and owner_ns != namespace:
            return "dangling"  # a namespaced owner must be in the dependent's namespace
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
            return "waiting"
        return "solid"

    def _check_owners(
        self, rtype: Any, obj: JsonDict, refs: list[JsonDict], owners: Any, has_dependents: bool
    ) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        states = [self._owner_state(r, namespace, owners) for r in refs]
        if "solid" in states:
            if all(state == "solid" for state in states):
                return
            new = json_copy(obj)
            new["metadata"]["ownerReferences"] = [
                json_copy(r) for r, state in zip(refs, states, strict=True) if state == "solid"
            ]
            self.cluster.update(
                rtype,
                namespace or None,
                meta["name"],
                new,
                None,
                WriteOptions(),
                old=json_copy(obj),
            )
            return
        if "waiting" in states and has_dependents:
            policy = "Foreground"
        else:
            policy = _policy_of(meta.get("finalizers") or [])
        self.cluster.delete(
            rtype,
            namespace or None,
            meta["name"],
            deleting.DeleteOptions(propagation=policy),
            WriteOptions(),
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

    def _finalize(self, rtype: Any, obj: JsonDict) -> None:
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if ORPHAN in finalizers:
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
            self._drop_finalizer(rtype, obj, ORPHAN)
        elif FOREGROUND in finalizers:
            uid = meta["uid"]
            blocking = [
                dep
                for _, dep in self._dependents(uid)
                for ref in dep["metadata"].get("ownerReferences") or []
                if ref.get("uid") == uid and ref.get("blockOwnerDeletion") is True
            ]
            if not blocking:
                self._drop_finalizer(rtype, obj, FOREGROUND)
        if (rtype.group, rtype.plural) == NS_KEY:
            self._finalize_namespace(rtype, obj)
        if (rtype.group, rtype.plural) == CRD_KEY and crdcleanup.FINALIZER in finalizers:
            self._finalize_crd(rtype, obj)

    def _finalize_crd(self, rtype: Any, crd: JsonDict) -> None:
        """The CRD finalizer controller: delete the instances, then let the CRD go (see
        :mod:`.crdcleanup`)."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        served = self.cluster.catalogue.versions_of(spec.get("group", ""), names.get("plural", ""))
        instances = self.cluster.store.view(served[0].storage_key, None) if served else []
        new = json_copy(crd)
        if instances:
            crdcleanup.set_condition(new, "True", *crdcleanup.IN_PROGRESS)
            if new != crd:
                self.cluster.store.write(CRD_KEY, new, "MODIFIED")
            for obj in instances:
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp"):
                    self.cluster.delete(
                        served[0],
                        meta.get("namespace") or None,
                        meta["name"],
                        deleting.DeleteOptions(grace=0),
                        WriteOptions(),
                    )
            return
        crdcleanup.set_condition(new, "False", *crdcleanup.COMPLETED)
        left = [f for f in new["metadata"].get("finalizers") or [] if f != crdcleanup.FINALIZER]
        if left:
            new["metadata"]["finalizers"] = left
        else:
            new["metadata"].pop("finalizers", None)
        stored = self.cluster.store.write(CRD_KEY, new, "MODIFIED")
        if not left:  # an update that empties a deleted object's finalizers removes it
            self.cluster.remove(rtype, stored)

    def _finalize_namespace(self, rtype: Any, ns: JsonDict) -> None:
        """The namespace controller's pass: ask everything inside to go, write what is
        left as the Namespace's conditions (see :mod:`.nsconditions`), and remove the
        Namespace once nothing is."""
        name = ns["metadata"]["name"]
        for storage, obj in self.cluster.store.all_objects():
            dep_type = self._rtype_of(storage)
            meta = obj["metadata"]
            if meta.get("namespace") != name or dep_type is None or meta.get("deletionTimestamp"):
                continue
            with contextlib.suppress(ApiError):  # changed or gone meanwhile: left, or not
                self.cluster.delete(
                    dep_type, name, meta["name"], deleting.BACKGROUND, WriteOptions()
                )
        left = [
            (storage, obj)
            for storage, obj in self.cluster.store.all_objects()
            if obj["metadata"].get("namespace") == name
        ]
        latest = self.cluster.store.get(NS_KEY, "", name)
        if latest is None:
            return
        by_resource, by_finalizer = nsconditions.remaining(left)
        old = (latest.get("status") or {}).get("conditions") or []
        conditions = nsconditions.updated(old, by_resource, by_finalizer, objects.now())
        if conditions is not None:
            new = json_copy(latest)
            new.setdefault("status", {})["conditions"] = conditions
            latest = self.cluster.store.write(NS_KEY, new, "MODIFIED")
        if not left and not latest["metadata"].get("finalizers"):
            new = json_copy(latest)
            new.setdefault("spec", {})["finalizers"] = []
            self.cluster.store.write(NS_KEY, new, "MODIFIED")
            latest = self.cluster.store.get(NS_KEY, "", name)
            if latest is not None:
                self.cluster.remove(rtype, latest)


def _policy_of(finalizers: list[str]) -> str:
    """The propagation the collector asks for when it deletes an object: what the
    object's own GC finalizer already says, else Background."""
    if ORPHAN in finalizers:
        return "Orphan"
    if FOREGROUND in finalizers:
        return "Foreground"
    return "Background"
