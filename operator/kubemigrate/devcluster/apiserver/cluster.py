"""The cluster state and every write to it, with the side effects the real server has.

Verbs here take already-decoded bodies; :mod:`.api` does the HTTP part. Side effects:
a CRD write (re)registers its resources for discovery and sets its Established and
NamesAccepted conditions; a CRD delete drops its objects; a new Namespace gets its
"default" ServiceAccount, and a Pod whose ServiceAccount does not exist is refused
(403, the ServiceAccount admission plugin); every removal wakes the garbage collector (:mod:`.gc`).
A Pod on a node is deleted gracefully (marked, and left to its kubelet, see
:mod:`.graceful`), and ``pods/binding`` assigns a Pod to a node (:meth:`Cluster.bind`).
A write that changes nothing is a no-op with no new resourceVersion and no watch
event, as in the real server. Every body is first "decoded" (:func:`.builtins.decode`),
so what a v1 -> internal conversion drops or folds (a Secret's stringData) never
reaches storage, whichever verb wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from . import (
    builtins,
    crdcleanup,
    crdschema,
    deleting,
    errors,
    graceful,
    kinds,
    objects,
    ownership,
    tolerations,
    validation,
)
from .errors import ApiError, FieldError, GoLiteral
from .resources import Catalogue, ResourceType
from .store import Store, json_copy

JsonDict = dict[str, Any]

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_KEY = ("", "namespaces")
POD_KEY = ("", "pods")
SA_KEY = ("", "serviceaccounts")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict, Warn or Ignore (the real default is Warn)


@dataclass
class Outcome:
    obj: JsonDict
    warnings: list[str] = field(default_factory=list)
    changed: bool = True


def _strip_rv(obj: JsonDict) -> JsonDict:
    """The object less resourceVersion and managedFields, for comparison only: a shallow
    view that shares everything else with ``obj`` (so it must not be changed)."""
    if "metadata" not in obj:
        return obj
    skip = ("resourceVersion", "managedFields")
    return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k not in skip}}


def _set_finalizers(meta: JsonDict, finalizers: list[str]) -> None:
    """Set the finalizers a DELETE decided on, leaving the field as it was if unchanged."""
    if finalizers == list(meta.get("finalizers") or []):
        return
    if finalizers:
        meta["finalizers"] = finalizers
    else:
        meta.pop("finalizers", None)


MAX_STORED_BYTES = 1536 * 1024  # etcd's default --max-request-bytes (1.5 MiB)


def check_storable(obj: JsonDict) -> None:
    """Refuse what etcd would: an object whose encoding exceeds its request limit.

    JSON stands in for the storage encoding (protobuf for built-ins is a little smaller).
    """
    if len(orjson.dumps(obj)) > MAX_STORED_BYTES:
        raise errors.request_too_large()


@dataclass
class Cluster:
    catalogue: Catalogue = field(default_factory=Catalogue.with_builtins)
    store: Store = field(default_factory=Store)
    # (uid, subresource) -> who owns which fields (server-side apply, see .ownership).
    owners: dict[tuple[str, str], ownership.Ownership] = field(default_factory=dict)
    wake_collector: Any = None  # set by the collector: a no-argument callable

    def __post_init__(self) -> None:
        namespaces = self.catalogue.lookup("", "v1", "namespaces")
        assert namespaces is not None
        for name in SYSTEM_NAMESPACES:
            self.create(namespaces, {"metadata": {"name": name}}, None, WriteOptions())

    # --- reading -------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> JsonDict:
        obj = self.store.get(rtype.storage_key, namespace or "", name)
        if obj is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        return self._serve(rtype, obj)

    def find(self, rtype: ResourceType, namespace: str | None, name: str) -> JsonDict | None:
        obj = self.store.get(rtype.storage_key, namespace or "", name)
        return None if obj is None else self._serve(rtype, obj)

    def list_objects(self, rtype: ResourceType, namespace: str | None) -> list[JsonDict]:
        return [self._serve(rtype, o) for o in self.store.select(rtype.storage_key, namespace)]

    def view_objects(self, rtype: ResourceType, namespace: str | None) -> list[JsonDict]:
        """The stored objects themselves, as stored (read-only: never change them)."""
        return self.store.view(rtype.storage_key, namespace)

    @staticmethod
    def _serve(rtype: ResourceType, obj: JsonDict) -> JsonDict:
        """Objects are stored once per group/plural and served under the asked version."""
        obj["apiVersion"] = rtype.api_version
        return obj

    def field_owners(self, uid: str, subresource: str, create: bool = True) -> ownership.Ownership:
        """The field managers of an object (a fresh, unrecorded one if none and not create)."""
        found = self.owners.get((uid, subresource))
        if found is None:
            found = ownership.Ownership()
            if create:
                self.owners[(uid, subresource)] = found
        return found

    # --- admission -----------------------------------------------------------------

    def _admit(
        self, rtype: ResourceType, obj: JsonDict, old: JsonDict | None, options: WriteOptions
    ) -> tuple[JsonDict, list[str]]:
        name = obj["metadata"].get("name", "")
        found: list[FieldError] = []
        warnings: list[str] = []
        # ObjectMeta first, then the kind's own fields, in the real validators' order
        if old is None:
            found += objects.name_errors(rtype, obj["metadata"])
        else:
            found += objects.finalizer_errors(old, obj)
        found += objects.metadata_errors(obj["metadata"])
        found += objects.owner_references_errors(obj["metadata"])
        if old is None:
            found += builtins.create_errors(rtype, obj)
        else:
            found += builtins.update_errors(rtype, old, obj)
        if rtype.custom:
            obj, admission = validation.admit(obj, rtype.schema, old, found)
            if admission.unknown_fields and options.field_validation == "Strict":
                listed = ", ".join(f'unknown field "{f}"' for f in admission.unknown_fields)
                raise errors.bad_request(
                    f'{rtype.kind} in version "{rtype.version}" cannot be handled as a '
                    f"{rtype.kind}: "
                    f"strict decoding error: {listed}"
                )
            if options.field_validation == "Warn":
                warnings += [f'unknown field "{f}"' for f in admission.unknown_fields]
            found += admission.errors
        if (rtype.group, rtype.plural) == CRD_KEY:
            found += crdschema.crd_errors(obj)
        if found:
            raise errors.invalid_object(rtype.kind, rtype.group, name, found)
        return obj, warnings

    def _check_namespace(self, rtype: ResourceType, namespace: str, name: str) -> None:
        ns = self.store.get(NS_KEY, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            error = errors.forbidden_error(
                rtype.plural,
                rtype.group,
                name,
                f"unable to create new content in namespace {namespace} "
                "because it is being terminated",
            )
            error.details["causes"] = [
                {
                    "type": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise error

    def _check_service_account(self, body: JsonDict, pod: JsonDict) -> None:
        """The ServiceAccount admission plugin: a Pod's service account must exist.

        The error names the Pod as the request did: its generateName when it had no
        name, since admission runs before the name is generated.
        """
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        namespace = pod["metadata"]["namespace"]
        if self.store.peek(SA_KEY, namespace, account) is not None:
            return
        asked = body.get("metadata") or {}
        name = asked.get("name") or asked.get("generateName") or "Unknown"
        raise errors.forbidden_error(
            "pods",
            "",
            name,
            f"error looking up service account {namespace}/{account}: "
            f'serviceaccount "{account}" not found',
        )

    # --- writing -------------------------------------------------------------------

    def create(
        self, rtype: ResourceType, body: JsonDict, namespace: str | None, options: WriteOptions
    ) -> Outcome:
        if rtype.custom:
            name = crdcleanup.crd_name(rtype.group, rtype.plural)
            if crdcleanup.is_terminating(self.store.peek(CRD_KEY, "", name)):
                raise crdcleanup.create_refused(rtype.group, rtype.plural)
        obj = objects.prepare_create(rtype, body, namespace)
        builtins.decode(rtype, obj)
        if obj["metadata"].get("name"):
            builtins.default(rtype, obj)
        meta = obj["metadata"]
        if rtype.namespaced:
            # Admission (NamespaceLifecycle, ServiceAccount, DefaultTolerationSeconds)
            # runs before validation.
            self._check_namespace(rtype, meta["namespace"], meta.get("name", ""))
            if (rtype.group, rtype.plural) == POD_KEY:
                self._check_service_account(body, obj)
                tolerations.add_defaults(obj)
        obj, warnings = self._admit(rtype, obj, None, options)
        if rtype.storage_key == kinds.SERVICES:
            kinds.allocate_service(obj, self.store.view(kinds.SERVICES, None))
        meta = obj["metadata"]
        if self.store.get(rtype.storage_key, meta.get("namespace", ""), meta["name"]) is not None:
            raise errors.already_exists(rtype.plural, rtype.group, meta["name"])
        if (rtype.group, rtype.plural) == CRD_KEY:
            obj["status"] = self._crd_status(obj)
        if options.dry_run:
            return Outcome(self._serve(rtype, obj), warnings)
        check_storable(obj)
        stored = self.store.write(rtype.storage_key, obj, "ADDED")
        self._after_write(rtype, stored, created=True)
        return Outcome(self._serve(rtype, stored), warnings)

    def update(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: JsonDict,
        subresource: str | None,
        options: WriteOptions,
        old: JsonDict | None = None,
    ) -> Outcome:
        if old is None:
            old = self.get(rtype, namespace, name)
        body_meta = body.get("metadata") or {}
        if body_meta.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({body_meta.get('name')}) does not match "
                f"the name on the URL ({name})"
            )
        wanted_rv = body_meta.get("resourceVersion")
        if wanted_rv in (None, "", "0", 0):  # parsed as 0: none given
            if not rtype.unconditional_update:
                # the generic store's check, before the strategy: named by the resource
                # (``qualifiedKind``'s Kind is the plural), the value a uint64 zero
                problem = errors.invalid(
                    "metadata.resourceVersion", GoLiteral("0x0"), "must be specified for an update"
                )
                raise errors.invalid_object(rtype.plural, rtype.group, name, [problem])
        elif str(wanted_rv) != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rtype.plural, rtype.group, name, errors.STALE)
        wanted_uid = body_meta.get("uid")
        if wanted_uid not in (None, "") and wanted_uid != old["metadata"]["uid"]:
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: UID in precondition: {wanted_uid}, "
                f"UID in object meta: {old['metadata']['uid']}",
            )
        new = objects.prepare_update(rtype, old, body, subresource)
        builtins.decode(rtype, new)
        kinds.carry_allocated(rtype.storage_key, old, new)
        if subresource is None:
            builtins.default_update(rtype, new)
        new, warnings = self._admit(rtype, new, old, options)
        objects.bump_generation(rtype, old, new)
        if (rtype.group, rtype.plural) == CRD_KEY:
            new["status"] = self._crd_status(new)
        if _strip_rv(new) == _strip_rv(old):
            return Outcome(old, warnings, changed=False)
        if options.dry_run:
            return Outcome(self._serve(rtype, new), warnings)
        check_storable(new)
        stored = self.store.write(rtype.storage_key, new, "MODIFIED")
        if graceful.removable(stored["metadata"]) and not self._held_by_spec(rtype, stored):
            self.remove(rtype, stored)
        else:
            self._after_write(rtype, stored, created=False)
        return Outcome(self._serve(rtype, stored), warnings)

    @staticmethod
    def _held_by_spec(rtype: ResourceType, obj: JsonDict) -> bool:
        """Namespaces are held by spec.finalizers, which only the namespace controller clears."""
        return (rtype.group, rtype.plural) == NS_KEY and bool(obj.get("spec", {}).get("finalizers"))

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        delete_options: deleting.DeleteOptions,
        options: WriteOptions,
    ) -> tuple[JsonDict, bool]:
        """Delete or mark for deletion (the generic store's ``Delete``); returns the
        object and whether it is gone now.

        The GC finalizers the options ask for are set (see :mod:`.deleting`); an object
        left with any finalizer is only marked (``markAsDeleting``), else it goes at
        once. Only Pods delete gracefully (see :mod:`.graceful`); Namespaces have their
        own rules (:meth:`_delete_namespace`).
        """
        old = self.get(rtype, namespace, name)
        meta = old["metadata"]
        self._check_preconditions(rtype, name, meta, delete_options.preconditions)
        if (rtype.group, rtype.plural) == NS_KEY:
            return self._delete_namespace(rtype, old, delete_options, options)
        if (rtype.group, rtype.plural) == CRD_KEY and not meta.get("deletionTimestamp"):
            # The CRD REST's first DELETE: marked for its instances' cleanup, see .crdcleanup
            return self._write_marked(rtype, old, crdcleanup.marked(old), options), False
        new = json_copy(old)
        new_meta = new["metadata"]
        is_graceful = False
        if (rtype.group, rtype.plural) == POD_KEY:
            is_graceful, pending = graceful.before_delete(new, delete_options.grace)
            if pending:  # already terminating at least as soon: nothing changes
                return self._serve(rtype, old), False
        finalizers = deleting.gc_finalizers(
            rtype, list(new_meta.get("finalizers") or []), delete_options
        )
        if is_graceful:
            return self._delete_gracefully(rtype, old, new, finalizers, options)
        if finalizers:
            _set_finalizers(new_meta, finalizers)
            objects.mark_deleting(new_meta)
            return self._write_marked(rtype, old, new, options), False
        if options.dry_run:
            return old, True
        return self.remove(rtype, old), True

    def _write_marked(
        self, rtype: ResourceType, old: JsonDict, new: JsonDict, options: WriteOptions
    ) -> JsonDict:
        """Store an object marked for deletion (a no-op if nothing changed)."""
        if options.dry_run or _strip_rv(new) == _strip_rv(old):
            return self._serve(rtype, old if not options.dry_run else new)
        stored = self.store.write(rtype.storage_key, new, "MODIFIED")
        self._wake()
        return self._serve(rtype, stored)

    @staticmethod
    def _check_preconditions(
        rtype: ResourceType, name: str, meta: JsonDict, preconditions: JsonDict
    ) -> None:
        if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {meta['uid']}",
            )
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != meta["resourceVersion"]
        ):
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
            )

    def _delete_namespace(
        self,
        rtype: ResourceType,
        old: JsonDict,
        delete_options: deleting.DeleteOptions,
        options: WriteOptions,
    ) -> tuple[JsonDict, bool]:
        """The Namespace REST's ``Delete``: the first DELETE only starts termination
        (deletionTimestamp, phase Terminating, the GC finalizers asked for: no grace
        period and no generation bump, unlike ``markAsDeleting``); a later one answers
        the Namespace unchanged while ``spec.finalizers`` holds it (the namespace
        controller empties it once the contents are gone, see :mod:`.gc`)."""
        meta = old["metadata"]
        if not meta.get("deletionTimestamp"):
            new = json_copy(old)
            new["metadata"]["deletionTimestamp"] = objects.now()
            new.setdefault("status", {})["phase"] = "Terminating"
            finalizers = deleting.namespace_finalizers(
                list(meta.get("finalizers") or []), delete_options
            )
            _set_finalizers(new["metadata"], finalizers)
            return self._write_marked(rtype, old, new, options), False
        if self._held_by_spec(rtype, old):
            return self._serve(rtype, old), False
        finalizers = deleting.gc_finalizers(
            rtype, list(meta.get("finalizers") or []), delete_options
        )
        if finalizers:
            new = json_copy(old)
            _set_finalizers(new["metadata"], finalizers)
            return self._write_marked(rtype, old, new, options), False
        if options.dry_run:
            return old, True
        return self.remove(rtype, old), True

    def _delete_gracefully(
        self,
        rtype: ResourceType,
        old: JsonDict,
        new: JsonDict,
        finalizers: list[str],
        options: WriteOptions,
    ) -> tuple[JsonDict, bool]:
        """Write the marked object first, then remove it if no grace and no finalizer
        holds it (``updateForGracefulDeletionAndFinalizers``): watchers see MODIFIED,
        then DELETED, even for a Pod that goes at once."""
        _set_finalizers(new["metadata"], finalizers)
        gone_now = graceful.removable(new["metadata"])
        if options.dry_run:
            return self._serve(rtype, new), gone_now
        stored = old
        if _strip_rv(new) != _strip_rv(old):
            stored = self.store.write(rtype.storage_key, new, "MODIFIED")
        if gone_now:
            return self.remove(rtype, stored), True
        self._wake()
        return self._serve(rtype, stored), False

    def bind(
        self,
        namespace: str,
        name: str,
        binding: JsonDict,
        options: WriteOptions,
    ) -> None:
        """``pods/binding``: assign an unassigned Pod to a node (the scheduler's write).

        As BindingREST's ``setPodHostAndAnnotations``: the Binding's uid and
        resourceVersion are preconditions; a Pod being deleted, already assigned or
        with scheduling gates is a 409 on ``pods/binding``; the node name goes into
        ``spec.nodeName`` (no generation bump: this bypasses the Pod strategy), the
        Binding's annotations onto the Pod, and ``PodScheduled`` becomes True.
        """
        pods = self.catalogue.lookup("", "v1", "pods")
        assert pods is not None
        old = self.get(pods, namespace, name)
        meta = old["metadata"]
        wanted = binding.get("metadata") or {}
        if wanted.get("uid") and wanted["uid"] != meta["uid"]:
            raise errors.conflict(
                "pods",
                "",
                name,
                f"Precondition failed: UID in precondition: {wanted['uid']}, "
                f"UID in object meta: {meta['uid']}",
            )
        if (
            wanted.get("resourceVersion")
            and str(wanted["resourceVersion"]) != meta["resourceVersion"]
        ):
            raise errors.conflict(
                "pods",
                "",
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{wanted['resourceVersion']}, ResourceVersion in object meta: "
                f"{meta['resourceVersion']}",
            )
        spec = old.get("spec") or {}
        if meta.get("deletionTimestamp"):
            why = f"pod {name} is being deleted, cannot be assigned to a host"
        elif spec.get("nodeName"):
            why = f"pod {name} is already assigned to node {errors.go_quote(spec['nodeName'])}"
        elif spec.get("schedulingGates"):
            why = f"pod {name} has non-empty .spec.schedulingGates"
        else:
            why = ""
        if why:
            raise errors.conflict("pods/binding", "", name, why)
        new = json_copy(old)
        new["spec"]["nodeName"] = (binding.get("target") or {}).get("name")
        annotations = wanted.get("annotations")
        if isinstance(annotations, dict) and annotations:
            new["metadata"]["annotations"] = {
                **(new["metadata"].get("annotations") or {}),
                **annotations,
            }
        status = new.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        previous = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None
        )
        since = objects.now()
        if previous is not None and previous.get("status") == "True":
            since = previous.get("lastTransitionTime") or since
        scheduled = {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": since,
        }
        if previous is None:
            conditions.append(scheduled)
        else:
            index = (status.get("conditions") or []).index(previous)
            conditions.insert(index, scheduled)
        status["conditions"] = conditions
        if options.dry_run:
            return
        check_storable(new)
        self.store.write(pods.storage_key, new, "MODIFIED")
        self._wake()

    def remove(self, rtype: ResourceType, obj: JsonDict) -> JsonDict:
        """Remove an object for good (finalizers done): a DELETED event with the final state."""
        final = self.store.write(rtype.storage_key, obj, "DELETED")
        if (rtype.group, rtype.plural) == CRD_KEY:
            name = final["metadata"]["name"]
            for served in self.catalogue.versions_of(
                final["spec"]["group"], final["spec"]["names"]["plural"]
            ):
                self.store.drop_storage(served.storage_key)
                break
            self.catalogue.unregister_crd(name)
        uid = final["metadata"]["uid"]
        for key in [k for k in self.owners if k[0] == uid]:
            del self.owners[key]
        self._wake()
        return self._serve(rtype, final)

    def _after_write(self, rtype: ResourceType, obj: JsonDict, *, created: bool) -> None:
        kind_key = (rtype.group, rtype.plural)
        if kind_key == CRD_KEY:
            self.catalogue.register_crd(obj)
        if kind_key == NS_KEY and created:
            sa = self.catalogue.lookup("", "v1", "serviceaccounts")
            assert sa is not None
            self.create(
                sa, {"metadata": {"name": "default"}}, obj["metadata"]["name"], WriteOptions()
            )
        self._wake()

    def _wake(self) -> None:
        if self.wake_collector is not None:
            self.wake_collector()

    @staticmethod
    def _crd_status(crd: JsonDict) -> JsonDict:
        now = objects.now()
        names = json_copy(crd.get("spec", {}).get("names", {}))
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        versions = crd.get("spec", {}).get("versions", [])
        stored = [v["name"] for v in versions if v.get("storage")]
        previous = {c.get("type"): c for c in (crd.get("status") or {}).get("conditions") or []}

        def condition(kind: str, reason: str, message: str) -> JsonDict:
            since = previous.get(kind, {}).get("lastTransitionTime", now)
            return {
                "type": kind,
                "status": "True",
                "lastTransitionTime": since,
                "reason": reason,
                "message": message,
            }

        terminating = crdcleanup.condition(crd)
        return {
            "conditions": [
                condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                condition(
                    "Established", "InitialNamesAccepted", "the initial names have been accepted"
                ),
                *([terminating] if terminating else []),
            ],
            "acceptedNames": names,
            "storedVersions": stored,
        }

    def rtype_of(self, storage: tuple[str, str]) -> ResourceType | None:
        versions = [t for t in self.catalogue.types.values() if t.storage_key == storage]
        return versions[0] if versions else None


def raise_invalid(rtype: ResourceType, name: str, problems: list[FieldError]) -> None:
    if problems:
        raise errors.invalid_object(rtype.kind, rtype.group, name, problems)


__all__ = ["ApiError", "Cluster", "Outcome", "WriteOptions"]
