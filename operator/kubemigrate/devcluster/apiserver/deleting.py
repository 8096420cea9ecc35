"""DeleteOptions, the garbage-collection finalizers a DELETE sets, and what it answers.

Taken from k8s.io/apiserver: the handler (``endpoints/handlers/delete.go``), the
generic registry store (``registry/generic/registry/store.go``: ``Delete``,
``deletionFinalizersForGarbageCollection``, ``shouldOrphanDependents``,
``shouldDeleteDependents``, ``finalizeDelete``) and the metav1 validation:

- the options come from the body when there is one, else from the query (never
  both): ``dryRun`` too, which kubectl ``delete --dry-run=server`` sends in the body;
  both ``orphanDependents`` and ``propagationPolicy``, a policy that is not
  Foreground, Background or Orphan, or a dryRun other than All, is 422
  ``DeleteOptions.meta.k8s.io "" is invalid``;
- which GC finalizer a DELETE leaves (``orphan`` or ``foregroundDeletion``, never
  both) is decided, in order, by ``orphanDependents``, by ``propagationPolicy``, by
  the finalizer the object already has, and last by the resource's default policy:
  orphan for batch/v1 Jobs (kept for backwards compatibility, with a warning when
  no option was given), background for everything else. kubectl always sends
  ``propagationPolicy`` (Background unless ``--cascade`` says otherwise), so only raw
  API clients meet the Job default;
- the answer is 200, or 202 only when the object is not gone yet *and*
  ``orphanDependents=false`` was sent (the handler's backwards-compatible rule: a
  Foreground policy, finalizers or a graceful Pod deletion still answer 200);
- its body is the object while it is not gone (marked for deletion); once gone,
  the final object for the stores that set ``ReturnDeletedObject`` (Pods, Services,
  ServiceAccounts, Namespaces) and a ``Status`` naming it for every other one,
  custom resources and CRDs included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .errors import GoLiteral
from .resources import ResourceType

JsonDict = dict[str, Any]

ORPHAN = "orphan"  # metav1.FinalizerOrphanDependents
FOREGROUND = "foregroundDeletion"  # metav1.FinalizerDeleteDependents
POLICIES = ("Foreground", "Background", "Orphan")

# Stores built with ReturnDeletedObject: true (their storage keys).
RETURNS_DELETED_OBJECT = {
    ("", "pods"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("", "namespaces"),
}
# Strategies whose DefaultGarbageCollectionPolicy is OrphanDependents for this version.
ORPHAN_BY_DEFAULT = {("batch", "v1", "jobs")}

JOB_ORPHAN_WARNING = (
    "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background "
    "to remove them or set propagationPolicy=Orphan to suppress this warning"
)

_GO_TYPES = {str: "string", bool: "bool", int: "number", float: "number", dict: "object"}


@dataclass(frozen=True)
class DeleteOptions:
    """metav1.DeleteOptions, each field None when not given."""

    propagation: str | None = None
    orphan: bool | None = None  # the deprecated orphanDependents
    grace: int | None = None  # gracePeriodSeconds
    preconditions: JsonDict = field(default_factory=dict)
    dry_run: tuple[str, ...] = ()  # dryRun: ("All",) changes nothing, answers as if

    @property
    def is_dry_run(self) -> bool:
        return bool(self.dry_run)


BACKGROUND = DeleteOptions(propagation="Background")


def _unmarshal_error(name: str, value: Any, go_type: str) -> errors.ApiError:
    got = _GO_TYPES.get(type(value), "array")
    return errors.bad_request(
        f"json: cannot unmarshal {got} into Go struct field DeleteOptions.{name} of type {go_type}"
    )


def _from_body(body: JsonDict) -> DeleteOptions:
    grace = body.get("gracePeriodSeconds")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise _unmarshal_error("gracePeriodSeconds", grace, "int64")
    orphan = body.get("orphanDependents")
    if orphan is not None and not isinstance(orphan, bool):
        raise _unmarshal_error("orphanDependents", orphan, "bool")
    policy = body.get("propagationPolicy")
    if policy is not None and not isinstance(policy, str):
        raise _unmarshal_error("propagationPolicy", policy, "v1.DeletionPropagation")
    preconditions = body.get("preconditions") or {}
    if not isinstance(preconditions, dict):
        raise _unmarshal_error("preconditions", preconditions, "v1.Preconditions")
    dry_run = body.get("dryRun") or []
    if not isinstance(dry_run, list) or not all(isinstance(v, str) for v in dry_run):
        raise _unmarshal_error("dryRun", dry_run, "[]string")
    return DeleteOptions(policy, orphan, grace, preconditions, tuple(dry_run))


def _query_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``, as the parameter codec decodes a bool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise errors.bad_request(f"strconv.ParseBool: parsing {errors.go_quote(text)}: invalid syntax")


def _from_query(query: Mapping[str, str]) -> DeleteOptions:
    grace = query.get("gracePeriodSeconds", "")
    orphan = query.get("orphanDependents", "")
    dry_run = query.get("dryRun", "")
    return DeleteOptions(
        propagation=query.get("propagationPolicy") or None,
        orphan=_query_bool(orphan) if orphan else None,
        grace=errors.query_int(grace) if grace else None,
        dry_run=(dry_run,) if dry_run else (),
    )


def decode(body: Any, query: Mapping[str, str]) -> DeleteOptions:
    """The request's DeleteOptions (a decoded body, or None for an empty one), validated."""
    if body is None:
        options = _from_query(query)
    elif isinstance(body, dict):
        options = _from_body(body)
    else:
        raise errors.bad_request("the body of the request must be DeleteOptions")
    validate(options)
    return options


def validate(options: DeleteOptions) -> None:
    """``ValidateDeleteOptions``: 422 for contradicting or unknown propagation options."""
    found = []
    if options.orphan is not None and options.propagation is not None:
        found.append(
            errors.invalid(
                "propagationPolicy",
                options.propagation,
                "orphanDependents and deletionPropagation cannot be both set",
            )
        )
    if options.propagation is not None and options.propagation not in POLICIES:
        found.append(
            errors.not_supported("propagationPolicy", options.propagation, [*POLICIES, "nil"])
        )
    if any(value != "All" for value in options.dry_run):
        listed = ", ".join(errors.go_quote(v) for v in options.dry_run)
        found.append(errors.not_supported("dryRun", GoLiteral(f"[]string{{{listed}}}"), ["All"]))
    if found:
        raise errors.invalid_object("DeleteOptions", "meta.k8s.io", "", found)


def orphans_by_default(rtype: ResourceType) -> bool:
    """The strategy's ``DefaultGarbageCollectionPolicy`` is OrphanDependents."""
    return (rtype.group, rtype.version, rtype.plural) in ORPHAN_BY_DEFAULT


def _should_orphan(rtype: ResourceType, finalizers: list[str], options: DeleteOptions) -> bool:
    if options.orphan is not None:
        return options.orphan
    if options.propagation is not None:
        return options.propagation == "Orphan"
    for name in finalizers:
        if name in (ORPHAN, FOREGROUND):
            return name == ORPHAN
    return orphans_by_default(rtype)


def _should_delete_dependents(finalizers: list[str], options: DeleteOptions) -> bool:
    if options.orphan is not None:
        return False
    if options.propagation is not None:
        return options.propagation == "Foreground"
    for name in finalizers:
        if name in (ORPHAN, FOREGROUND):
            return name == FOREGROUND
    return False


def gc_finalizers(rtype: ResourceType, finalizers: list[str], options: DeleteOptions) -> list[str]:
    """``deletionFinalizersForGarbageCollection``: the object's finalizers after this
    DELETE (the same list, order kept, when nothing changes)."""
    orphan = _should_orphan(rtype, finalizers, options)
    foreground = _should_delete_dependents(finalizers, options)
    kept = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
    wanted = kept + ([ORPHAN] if orphan else []) + ([FOREGROUND] if foreground else [])
    return list(finalizers) if set(wanted) == set(finalizers) else wanted


def namespace_finalizers(finalizers: list[str], options: DeleteOptions) -> list[str]:
    """The Namespace REST's own rule (``shouldHaveOrphanFinalizer``/``...DeleteDependents...``):
    as :func:`gc_finalizers`, but with no default policy beyond what it has."""
    orphan = ORPHAN in finalizers
    foreground = FOREGROUND in finalizers
    if options.orphan is not None:
        orphan, foreground = options.orphan, not options.orphan
    elif options.propagation is not None:
        orphan = options.propagation == "Orphan"
        foreground = options.propagation == "Foreground"
    kept = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
    wanted = kept + ([ORPHAN] if orphan else []) + ([FOREGROUND] if foreground else [])
    return list(finalizers) if set(wanted) == set(finalizers) else wanted


def warnings(rtype: ResourceType, options: DeleteOptions) -> list[str]:
    """The Job REST's warning when nothing said what to do with the Job's Pods."""
    if options.propagation is None and options.orphan is None and orphans_by_default(rtype):
        return [JOB_ORPHAN_WARNING]
    return []


def answer_code(gone: bool, options: DeleteOptions) -> int:
    """200, or 202 if not deleted at once and ``orphanDependents=false`` was sent."""
    return 202 if not gone and options.orphan is False else 200


def returns_object(rtype: ResourceType) -> bool:
    return rtype.storage_key in RETURNS_DELETED_OBJECT


def deleted_status(rtype: ResourceType, obj: JsonDict) -> JsonDict:
    """``finalizeDelete``'s Status for a store that does not return the deleted object
    (its ``details.kind`` is the resource, as the real one's is)."""
    meta = obj["metadata"]
    details: JsonDict = {"name": meta["name"]}
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.plural
    details["uid"] = meta["uid"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
