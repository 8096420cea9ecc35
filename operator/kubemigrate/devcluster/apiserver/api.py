"""The HTTP face of the API: routing, body decoding, verbs, patch types, output formats.

URL grammar as the real server parses it: ``/api/v1`` or ``/apis/<group>/<version>``,
then ``[namespaces/<ns>/]<plural>[/<name>[/<subresource>]]``, where
``namespaces/<name>/status`` and ``/finalize`` are the Namespace's own subresources.
Two Pod subresources are not the Pod: ``pods/<name>/log`` (see :mod:`.podlogs`) and
``pods/<name>/binding``, which takes a Binding from a scheduler (``Cluster.bind``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from . import (
    deleting,
    discovery,
    errors,
    listoptions,
    ownership,
    paging,
    partial,
    patching,
    podlogs,
    protobuf,
    selectors,
    tables,
)
from .cluster import Cluster, WriteOptions
from .errors import ApiError
from .resources import ResourceType
from .watching import WatchRequest
from .wire import Request, Response, StreamResponse

JsonDict = dict[str, Any]

JSON_TYPES = {"application/json", "", "*/*"}
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml"}
PATCH_TYPES = {
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "application/apply-patch+cbor",
}


@dataclass(frozen=True)
class Target:
    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def binding_errors(binding: JsonDict) -> list[errors.FieldError]:
    """``ValidatePodBinding``: a Node target, named."""
    target = binding.get("target") or {}
    found = []
    kind = target.get("kind") or ""
    if kind and kind != "Node":
        found.append(errors.not_supported("target.kind", kind, ["Node", "<empty>"]))
    if not target.get("name"):
        found.append(errors.required("target.name"))
    return found


def _decode(request: Request, *, yaml_ok: bool = False) -> Any:
    content_type = request.content_type
    if "protobuf" in content_type or "cbor" in content_type:
        raise errors.unsupported_media_type(content_type)
    if not request.body:
        return None
    try:
        if content_type in YAML_TYPES or (yaml_ok and "yaml" in content_type):
            return yaml.safe_load(request.body)
        return orjson.loads(request.body)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from None


class Api:
    """The API over one :class:`.cluster.Cluster`.

    ``pod_logs_dir`` is the kubelet stand-in's work directory, where container logs
    are (see :mod:`.podlogs`); None means no node serves this cluster, so no Pod is
    ever scheduled and ``pods/log`` answers as for an unscheduled Pod.
    """

    def __init__(
        self, cluster: Cluster, server_address: str = "", pod_logs_dir: Path | None = None
    ) -> None:
        self.cluster = cluster
        self.server_address = server_address
        self.pod_logs_dir = pod_logs_dir

    async def handle(self, request: Request) -> Response | StreamResponse:
        try:
            return await self._route(request)
        except ApiError as exc:
            return Response(exc.code, exc.status(), warnings=exc.warnings)

    # --- routing -------------------------------------------------------------------

    async def _route(self, request: Request) -> Response | StreamResponse:
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        catalogue = self.cluster.catalogue
        if request.method == "GET":
            static = self._static(request, path, parts)
            if static is not None:
                return static
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.resource_not_found()
        if not rest:
            raise errors.resource_not_found()
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise errors.resource_not_found()
        rtype = catalogue.lookup(group, version, rest[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise errors.resource_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in rtype.all_subresources:
            raise errors.resource_not_found()
        if rtype.namespaced and name is not None and namespace is None:
            raise errors.resource_not_found()
        return await self._verb(request, Target(rtype, namespace, name, sub))

    def _static(self, request: Request, path: str, parts: list[str]) -> Response | None:
        catalogue = self.cluster.catalogue
        doc: Any = None
        if path == "/":
            doc = discovery.root_paths(catalogue)
        elif path == "/version":
            doc = discovery.VERSION_INFO
        elif path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        elif path == "/api":
            doc = discovery.api_versions(self.server_address)
        elif path == "/apis":
            doc = discovery.api_groups(catalogue)
        elif path == "/openapi/v2":
            accept = request.header("accept")
            form = discovery.openapi_v2_format(accept)
            if form is None:
                raise errors.not_acceptable(accept)
            if form == "protobuf":
                body = discovery.openapi_v2_protobuf()
                return Response(200, body, discovery.OPENAPI_V2_PROTOBUF)
            doc = discovery.openapi_v2()
        elif path == "/openapi/v3":
            doc = discovery.openapi_v3_root(catalogue)
        elif len(parts) >= 4 and parts[:2] == ["openapi", "v3"]:
            gv = parts[2:]
            if gv[0] == "api" and len(gv) == 2:
                doc = discovery.openapi_v3_group_version(catalogue, "", gv[1])
            elif gv[0] == "apis" and len(gv) == 3:
                doc = discovery.openapi_v3_group_version(catalogue, gv[1], gv[2])
            if doc is None or not doc["paths"]:
                raise errors.resource_not_found()
        elif len(parts) == 2 and parts[0] == "api":
            doc = discovery.resource_list(catalogue, "", parts[1])
            if doc is None:
                raise errors.resource_not_found()
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.api_group(catalogue, parts[1])
            if doc is None:
                raise errors.resource_not_found()
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.resource_list(catalogue, parts[1], parts[2])
            if doc is None:
                raise errors.resource_not_found()
        return None if doc is None else Response(200, doc)

    async def _verb(self, request: Request, target: Target) -> Response | StreamResponse:
        method = request.method
        if target.subresource == "log":  # pods/log is read-only, and not the Pod
            if method != "GET":
                raise errors.method_not_allowed(method)
            return self._pod_log(request, target)
        if target.subresource == "binding":  # pods/binding takes a Binding, create only
            if method != "POST":
                raise errors.method_not_allowed(method)
            return self._bind(request, target)
        if method == "GET" and target.name is None:
            if request.flag("watch"):
                return self._watch(request, target)
            return await self._list(request, target)
        if method == "GET":
            assert target.name is not None
            obj = self.cluster.get(target.rtype, target.namespace, target.name)
            return self._output(request, target.rtype, obj, 200)
        if method == "POST" and target.name is None:
            return self._create(request, target)
        if method == "PUT" and target.name is not None:
            return self._replace(request, target)
        if method == "PATCH" and target.name is not None:
            return self._patch(request, target)
        if method == "DELETE" and target.name is not None:
            return self._delete(request, target)
        if method == "DELETE":
            return self._delete_collection(request, target)
        raise errors.method_not_allowed(method)

    def _pod_log(self, request: Request, target: Target) -> Response | StreamResponse:
        """A container's output as text/plain (see :mod:`.podlogs` for the rules)."""
        assert target.name is not None
        options = podlogs.parse_options(request, target.name)
        pod = self.cluster.get(target.rtype, target.namespace, target.name)
        container = podlogs.choose_container(pod, options.container)
        if not (pod.get("spec") or {}).get("nodeName"):
            # No node to ask: LogLocation gives no location and the answer is an empty
            # log (200), even with follow=true; not the "does not have a host
            # assigned" 400, which is exec's, attach's and port-forward's.
            return Response(200, b"", podlogs.CONTENT_TYPE)
        entry = podlogs.container_status(pod, container)
        if self.pod_logs_dir is None:
            raise ApiError(
                500,
                "InternalError",
                "Internal error occurred: no kubelet serves logs for this cluster "
                "(start the emulator with --pod-logs-dir)",
                {},
            )
        podlogs.check_log_status(target.name, container, entry, options.previous)
        path = podlogs.log_file(self.pod_logs_dir, pod, container)
        if not path.exists():
            raise podlogs.missing_log(path)
        data = path.read_bytes()
        offset = len(data)
        data = podlogs.tail(data, options.tail_lines)
        if options.limit_bytes is not None:
            data = data[: options.limit_bytes]
        running = "running" in ((entry or {}).get("state") or {})
        if not options.follow or not running:
            return Response(200, data, podlogs.CONTENT_TYPE)
        budget = None if options.limit_bytes is None else options.limit_bytes - len(data)
        return StreamResponse(
            self._follow(data, path, offset, budget, pod, container), 200, podlogs.CONTENT_TYPE
        )

    async def _follow(
        self,
        head: bytes,
        path: Path,
        offset: int,
        budget: int | None,
        pod: JsonDict,
        container: str,
    ) -> AsyncIterator[bytes]:
        rtype, meta = self.cluster.catalogue.lookup("", "v1", "pods"), pod["metadata"]
        assert rtype is not None

        def still_running() -> bool:
            now = self.cluster.find(rtype, meta["namespace"], meta["name"])
            if now is None or now["metadata"]["uid"] != meta["uid"]:
                return False
            entry = podlogs.container_status(now, container) or {}
            return "running" in (entry.get("state") or {})

        yield head
        async for chunk in podlogs.follow(path, offset, budget, still_running):
            yield chunk

    # --- helpers -------------------------------------------------------------------

    def _options(self, request: Request) -> WriteOptions:
        validation = request.query.get("fieldValidation", "Warn") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f"fieldValidation must be one of Strict, Warn or Ignore, not {validation!r}"
            )
        return WriteOptions(
            dry_run=request.query.get("dryRun") == "All", field_validation=validation
        )

    def _output(
        self,
        request: Request,
        rtype: ResourceType,
        obj: JsonDict,
        status: int,
        warnings: list[str] | None = None,
    ) -> Response:
        if tables.wants_table(request.header("accept")):
            body = tables.table(
                rtype,
                [obj],
                obj["metadata"].get("resourceVersion", ""),
                request.query.get("includeObject", "Metadata"),
            )
            return Response(status, body, warnings=warnings or [])
        metadata_only = partial.requested(request.header("accept"))
        if metadata_only is not None:
            obj = partial.single(rtype, obj, metadata_only)
        return Response(status, obj, warnings=warnings or [])

    def _matcher(self, request: Request, rtype: ResourceType) -> selectors.Predicate:
        checks = []
        if request.query.get("labelSelector"):
            checks.append(selectors.label_selector(request.query["labelSelector"]))
        if request.query.get("fieldSelector"):
            checks.append(
                selectors.field_selector(request.query["fieldSelector"], rtype.plural, rtype.kind)
            )
        return lambda obj: all(check(obj) for check in checks)

    def _body_object(self, request: Request, target: Target) -> JsonDict:
        if request.content_type == protobuf.CONTENT_TYPE:
            body: Any = protobuf.decode(request.body)
        else:
            body = _decode(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be an object")
        return self._check_body(body, target)

    @staticmethod
    def _check_body(body: JsonDict, target: Target) -> JsonDict:
        rtype = target.rtype
        api_version = body.get("apiVersion")
        if api_version not in (None, "") and api_version != rtype.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version "
                f"({rtype.api_version})"
            )
        kind = body.get("kind")
        if kind not in (None, "") and kind != rtype.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
            )
        body_ns = (body.get("metadata") or {}).get("namespace")
        if target.namespace and body_ns and body_ns != target.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent "
                "on the request"
            )
        return body

    # --- verbs ---------------------------------------------------------------------

    async def _list(self, request: Request, target: Target) -> Response:
        """A list, or one page of it, read at the revision its options ask for (see
        :mod:`.listoptions` and, for ``limit``/``continue``, :mod:`.paging`)."""
        rtype = target.rtype
        store = self.cluster.store
        read = listoptions.list_read(request.query)
        await listoptions.wait_until_fresh(store, read.revision)
        # The stored objects are only read here: each item is a new top-level dict that
        # shares the rest with the stored object (never changed in place), and it is
        # encoded before anything else runs.
        page = paging.list_page(
            store,
            rtype.storage_key,
            target.namespace,
            self._matcher(request, rtype),
            request.query,
            listoptions.served_revision(store, read),
            read.start,
        )
        list_meta = page.list_meta()
        if tables.wants_table(request.header("accept")):
            served = [{**o, "apiVersion": rtype.api_version} for o in page.items]
            include = request.query.get("includeObject", "Metadata")
            table = tables.table(rtype, served, list_meta["resourceVersion"], include)
            table["metadata"] = list_meta  # a Table carries its list's ListMeta
            return Response(200, table)
        metadata_only = partial.requested(request.header("accept"))
        if metadata_only is not None:
            return Response(200, partial.listing(rtype, page.items, list_meta, metadata_only))
        items = [
            {
                **{k: v for k, v in o.items() if k not in ("apiVersion", "kind")},
                "apiVersion": rtype.api_version,
                "kind": rtype.kind,
            }
            for o in page.items
        ]
        return Response(
            200,
            {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": list_meta,
                "items": items,
            },
        )

    def _watch(self, request: Request, target: Target) -> StreamResponse:
        watch = WatchRequest(
            target.rtype,
            target.namespace,
            self._matcher(request, target.rtype),
            dict(request.query),
            tables.wants_table(request.header("accept")),
            partial.requested(request.header("accept")),
        )
        return StreamResponse(watch.stream(self.cluster.store))

    def _create(self, request: Request, target: Target) -> Response:
        if target.subresource:
            raise errors.method_not_allowed("POST")
        body = self._body_object(request, target)
        options = self._options(request)
        outcome = self.cluster.create(target.rtype, body, target.namespace, options)
        if not options.dry_run:
            self._updated(request, target, None, outcome.obj)
        return self._output(request, target.rtype, outcome.obj, 201, outcome.warnings)

    def _bind(self, request: Request, target: Target) -> Response:
        """POST ``pods/<name>/binding``: what the scheduler writes (see ``Cluster.bind``)."""
        assert target.name is not None
        assert target.namespace is not None
        body = _decode(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a Binding")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version not in (None, "", "v1") or kind not in (None, "", "Binding"):
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind (Binding)"
            )
        meta = body.get("metadata") or {}
        if meta.get("namespace") and meta["namespace"] != target.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent "
                "on the request"
            )
        if meta.get("name") != target.name:
            raise errors.bad_request("name in URL does not match name in Binding object")
        found = binding_errors(body)
        if found:
            # ValidatePodBinding's errors come back as a plain aggregate, not a Status
            # error, so the server answers them as an unknown failure (500, no reason).
            listed = [str(e) for e in found]
            text = listed[0] if len(listed) == 1 else "[" + ", ".join(listed) + "]"
            raise ApiError(500, "", text, {})
        options = self._options(request)
        self.cluster.bind(target.namespace, target.name, body, options)
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }
        return Response(201, status)

    def _replace(self, request: Request, target: Target) -> Response:
        assert target.name is not None
        body = self._body_object(request, target)
        options = self._options(request)
        old = self.cluster.get(target.rtype, target.namespace, target.name)
        outcome = self.cluster.update(
            target.rtype,
            target.namespace,
            target.name,
            body,
            target.subresource,
            options,
            old=old,
        )
        if outcome.changed and not options.dry_run:
            self._updated(request, target, old, outcome.obj)
        return self._output(request, target.rtype, outcome.obj, 200, outcome.warnings)

    def _updated(
        self, request: Request, target: Target, old: JsonDict | None, new: JsonDict
    ) -> None:
        """An Update operation's manager takes the fields the write changed."""
        if target.subresource:
            return  # status writes are not tracked (see :mod:`.ownership`)
        rtype = target.rtype
        name = request.query.get("fieldManager") or ownership.user_agent_manager(
            request.header("user-agent")
        )
        manager = ownership.Manager(name, "Update", rtype.api_version)
        changed = ownership.changed_fields(old, new, rtype.status_subresource)
        if changed:
            owners = self.cluster.field_owners(new["metadata"]["uid"], "")
            ownership.take(owners, manager, changed)

    def _patch(self, request: Request, target: Target) -> Response:
        assert target.name is not None
        rtype = target.rtype
        content_type = request.content_type
        if content_type not in PATCH_TYPES or content_type == "application/apply-patch+cbor":
            raise errors.unsupported_media_type(content_type)
        if content_type == "application/strategic-merge-patch+json" and rtype.custom:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml",
                {},
            )
        options = self._options(request)
        if content_type == "application/apply-patch+yaml":
            return self._apply(request, target, options)
        patch = _decode(request)
        old = self.cluster.get(rtype, target.namespace, target.name)
        if content_type == "application/json-patch+json":
            patched = patching.json_patch(old, patch)
        elif content_type == "application/merge-patch+json":
            patched = patching.merge_patch(old, patch)
        else:
            patched = patching.strategic_merge_patch(old, patch)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        outcome = self.cluster.update(
            rtype, target.namespace, target.name, patched, target.subresource, options, old=old
        )
        if outcome.changed and not options.dry_run:
            self._updated(request, target, old, outcome.obj)
        return self._output(request, rtype, outcome.obj, 200, outcome.warnings)

    def _apply(self, request: Request, target: Target, options: WriteOptions) -> Response:
        """Server-side apply (approximated: see :func:`.patching.apply_merge`).

        A field another manager owns and this apply would change is a 409 conflict,
        unless ``force=true`` (see :mod:`.ownership`).
        """
        assert target.name is not None
        rtype = target.rtype
        manager = request.query.get("fieldManager", "")
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
                {},
            )
        applied = _decode(request, yaml_ok=True)
        if (
            not isinstance(applied, dict)
            or not applied.get("apiVersion")
            or not applied.get("kind")
        ):
            raise errors.bad_request("apply patches must set apiVersion and kind")
        self._check_body(applied, target)
        old = self.cluster.find(rtype, target.namespace, target.name)
        sub = target.subresource or ""
        applier = ownership.Manager(manager, "Apply")
        status_sub = rtype.status_subresource and not sub
        fields = ownership.applied_fields(applied, status_sub)
        if old is None:
            if target.subresource:
                raise errors.not_found(rtype.plural, rtype.group, target.name)
            outcome = self.cluster.create(rtype, applied, target.namespace, options)
            status = 201
            owners = ownership.Ownership()
        else:
            owners = self.cluster.field_owners(old["metadata"]["uid"], sub, create=False)
            found = ownership.conflicts(owners, applier, old, applied, status_sub)
            if found and request.query.get("force") != "true":
                raise ownership.conflict_error(found)
            if not options.dry_run:
                ownership.take(owners, applier, [path for _, path in found])
            released = ownership.released(owners, applier, fields)
            merged = patching.apply_merge(old, applied, released)
            outcome = self.cluster.update(
                rtype, target.namespace, target.name, merged, target.subresource, options, old=old
            )
            status = 200
        if not options.dry_run:
            owners = self.cluster.field_owners(outcome.obj["metadata"]["uid"], sub)
            ownership.applied_by(owners, applier, fields)
        return self._output(request, rtype, outcome.obj, status, outcome.warnings)

    def _delete(self, request: Request, target: Target) -> Response:
        """DELETE one object; the answer's code and body as :mod:`.deleting` says."""
        assert target.name is not None
        if target.subresource:
            raise errors.method_not_allowed("DELETE")
        rtype = target.rtype
        delete_options = deleting.decode(_decode(request), request.query)
        obj, gone = self.cluster.delete(
            rtype,
            target.namespace,
            target.name,
            delete_options,
            self._delete_write(request, delete_options),
        )
        warnings = deleting.warnings(rtype, delete_options)
        if gone and not deleting.returns_object(rtype):
            return Response(200, deleting.deleted_status(rtype, obj), warnings=warnings)
        code = deleting.answer_code(gone, delete_options)
        return self._output(request, rtype, obj, code, warnings)

    def _delete_write(
        self, request: Request, delete_options: deleting.DeleteOptions
    ) -> WriteOptions:
        """A DELETE's dry run is its DeleteOptions' (from the body when there is one)."""
        options = self._options(request)
        options.dry_run = delete_options.is_dry_run
        return options

    def _delete_collection(self, request: Request, target: Target) -> Response:
        """DELETE a collection: each match deleted as one DELETE would, and the answer
        is the list of them as they were listed before (``Store.DeleteCollection``)."""
        rtype = target.rtype
        delete_options = deleting.decode(_decode(request), request.query)
        matches = self._matcher(request, rtype)
        options = self._delete_write(request, delete_options)
        revision = self.cluster.store.revision  # the list's, read before any deletion
        listed = []
        for obj in self.cluster.list_objects(rtype, target.namespace):
            if matches(obj):
                meta = obj["metadata"]
                try:
                    self.cluster.delete(
                        rtype, meta.get("namespace"), meta["name"], delete_options, options
                    )
                except ApiError as exc:
                    if exc.code != 404:  # gone meanwhile is no failure
                        raise
                listed.append({**obj, "apiVersion": rtype.api_version, "kind": rtype.kind})
        body = {
            "kind": rtype.list_kind,
            "apiVersion": rtype.api_version,
            "metadata": {"resourceVersion": str(revision)},
            "items": listed,
        }
        return Response(200, body, warnings=deleting.warnings(rtype, delete_options))
