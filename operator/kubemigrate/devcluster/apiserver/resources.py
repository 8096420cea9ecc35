"""The resource catalogue: built-in kinds, plus whatever CRDs register.

The built-ins are what kubemigrate, kopf and the project's install paths (the Helm
chart, ``manifests/``) write: core v1 (Namespace, ConfigMap, Secret, ServiceAccount,
Service, Event, Pod), apps/v1 Deployment (stored and defaulted, but no controller
runs it: it never gets Pods or status), batch/v1 Job, policy/v1 PodDisruptionBudget
(validated and stored; no disruption controller fills its status), coordination
Lease, the four
rbac.authorization.k8s.io/v1 kinds (stored, not enforced) and CRDs.

One :class:`ResourceType` per group/version/plural carries what discovery, storage,
validation and tables need. Objects are stored per group+plural (one storage version),
served under any of the group's versions, as with a CRD's conversion strategy ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    has_generation: bool = False
    schema: JsonDict | None = None  # openAPIV3Schema, only for custom resources
    printer_columns: tuple[JsonDict, ...] = ()
    subresources: tuple[str, ...] = ()  # besides status, e.g. "log" for pods
    custom: bool = False  # served from a CRD

    @property
    def unconditional_update(self) -> bool:
        """``AllowUnconditionalUpdate``: whether a PUT may leave out the resourceVersion it
        replaces. Every built-in strategy here allows it; custom resources and CRDs (and
        their status) do not, so such a PUT is refused rather than overwriting changes
        the writer never saw."""
        crd = (self.group, self.plural) == ("apiextensions.k8s.io", "customresourcedefinitions")
        return not self.custom and not crd

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def all_subresources(self) -> tuple[str, ...]:
        return (("status",) if self.status_subresource else ()) + self.subresources


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    generation: bool = False,
    sub: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        status_subresource=status,
        has_generation=generation,
        subresources=sub,
        categories=categories,
    )


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), status=True),
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin("", "v1", "services", "Service", short=("svc",), status=True, categories=("all",)),
    _builtin("", "v1", "events", "Event", short=("ev",)),
    _builtin(
        "",
        "v1",
        "pods",
        "Pod",
        short=("po",),
        status=True,
        generation=True,
        sub=("binding", "log"),
        categories=("all",),
    ),
    _builtin(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        status=True,
        generation=True,
        categories=("all",),
    ),
    _builtin("events.k8s.io", "v1", "events", "Event", short=("ev",)),
    _builtin("batch", "v1", "jobs", "Job", status=True, generation=True, categories=("all",)),
    _builtin(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short=("pdb",),
        status=True,
        generation=True,
    ),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
    _builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        status=True,
        generation=True,
        categories=("api-extensions",),
    ),
)


def from_crd(crd: JsonDict) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition, as resource types."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    result: list[ResourceType] = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", [])),
                categories=tuple(names.get("categories", [])),
                status_subresource="status" in (version.get("subresources") or {}),
                has_generation=True,
                schema=schema,
                printer_columns=tuple(version.get("additionalPrinterColumns", [])),
                custom=True,
            )
        )
    return result


@dataclass
class Catalogue:
    """All resource types currently served, keyed by (group, version, plural)."""

    types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    crd_owned: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls) -> Catalogue:
        catalogue = cls()
        for rtype in BUILTINS:
            catalogue.types[(rtype.group, rtype.version, rtype.plural)] = rtype
        return catalogue

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rtype in self.types.values():
            if rtype.api_version == api_version and rtype.kind == kind:
                return rtype
        return None

    def versions_of(self, group: str, plural: str) -> list[ResourceType]:
        return [t for t in self.types.values() if t.group == group and t.plural == plural]

    def register_crd(self, crd: JsonDict) -> None:
        """Serve (or re-serve, on update) what a CRD declares."""
        name = crd["metadata"]["name"]
        self.unregister_crd(name)
        keys = []
        for rtype in from_crd(crd):
            key = (rtype.group, rtype.version, rtype.plural)
            self.types[key] = rtype
            keys.append(key)
        self.crd_owned[name] = keys

    def unregister_crd(self, name: str) -> None:
        for key in self.crd_owned.pop(name, []):
            self.types.pop(key, None)

    def groups(self) -> dict[str, list[str]]:
        """Group name -> versions, in registration order (first is preferred)."""
        result: dict[str, list[str]] = {}
        for group, version, _ in self.types:
            versions = result.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        return result
