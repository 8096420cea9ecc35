"""Server-side apply field ownership: conflicts between field managers, and force."""

from __future__ import annotations

from typing import Any

import yaml

from kubemigrate.devcluster.apiserver import ownership
from tests.devcluster.devcluster_http import Http

APPLY = "application/apply-patch+yaml"


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _apply(
    api: Http, namespace: str, body: dict[str, Any], manager: str, force: bool = False
) -> Any:
    query = {"fieldManager": manager}
    if force:
        query["force"] = "true"
    path = f"/api/v1/namespaces/{namespace}/configmaps/{body['metadata']['name']}"
    return api.patch(path, yaml.safe_dump(body), content_type=APPLY, query=query)


def test_a_second_applier_changing_a_field_conflicts(api: Http, namespace: str) -> None:
    assert _apply(api, namespace, _cm("c", a="1", b="2"), "alice").status == 201
    reply = _apply(api, namespace, _cm("c", a="9"), "bob")
    assert reply.status == 409, reply.body
    assert reply.body["reason"] == "Conflict"
    assert reply.body["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.a'
    assert reply.body["details"]["causes"] == [
        {"type": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.a"}
    ]
    # the same value is shared ownership, not a conflict
    assert _apply(api, namespace, _cm("c", a="1", c="3"), "bob").status == 200
    # force takes the field: alice no longer owns it, so her dropping it removes nothing
    forced = _apply(api, namespace, _cm("c", a="9"), "bob", force=True)
    assert forced.status == 200, forced.body
    assert forced.body["data"] == {"a": "9", "b": "2"}  # bob dropped c: he alone owned it
    dropped = _apply(api, namespace, _cm("c", b="2"), "alice")
    assert dropped.status == 200, dropped.body
    assert dropped.body["data"] == {"a": "9", "b": "2"}


def test_several_conflicts_are_grouped_by_manager(api: Http, namespace: str) -> None:
    _apply(api, namespace, _cm("g", a="1", b="2"), "alice")
    api.patch(
        f"/api/v1/namespaces/{namespace}/configmaps/g",
        {"data": {"c": "3"}},
        query={"fieldManager": "kubectl-edit"},
    )
    reply = _apply(api, namespace, _cm("g", a="x", b="y", c="z"), "bob")
    assert reply.status == 409
    assert reply.body["message"] == (
        "Apply failed with 3 conflicts: "
        'conflicts with "alice":\n- .data.a\n- .data.b\n'
        'conflicts with "kubectl-edit" using v1:\n- .data.c'
    )


def test_updates_never_conflict_and_take_ownership(api: Http, namespace: str) -> None:
    _apply(api, namespace, _cm("u", a="1"), "alice")
    path = f"/api/v1/namespaces/{namespace}/configmaps/u"
    edited = api.patch(path, {"data": {"a": "2"}}, query={"fieldManager": "kubectl-edit"})
    assert edited.status == 200
    # alice's next apply of her old value now conflicts with the editor
    reply = _apply(api, namespace, _cm("u", a="1"), "alice")
    assert reply.status == 409
    assert reply.body["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a'
    )


def test_kubectl_server_side_apply(kubectl: Any, api: Http, namespace: str) -> None:
    manifest = yaml.safe_dump(
        {**_cm("k", a="1"), "metadata": {"name": "k", "namespace": namespace}}
    )
    kubectl("create", "-f", "-", stdin=manifest)
    changed = yaml.safe_dump({**_cm("k", a="2"), "metadata": {"name": "k", "namespace": namespace}})
    result = kubectl("apply", "--server-side", "-f", "-", stdin=changed, check=False)
    assert result.returncode == 1
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .data.a'
        in result.stderr
    )
    forced = kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=changed)
    assert "configmap/k serverside-applied" in forced.stdout
    assert api.get(f"/api/v1/namespaces/{namespace}/configmaps/k").body["data"] == {"a": "2"}
    again = kubectl("apply", "--server-side", "-f", "-", stdin=changed)
    assert again.returncode == 0


def test_custom_resource_status_is_not_owned_through_the_main_resource() -> None:
    live = {"spec": {"a": 1}, "status": {"phase": "x"}}
    owners = ownership.Ownership()
    ownership.take(
        owners,
        ownership.Manager("op", "Update", "v1"),
        ownership.changed_fields(None, live, status_subresource=True),
    )
    assert owners.fields == {ownership.Manager("op", "Update", "v1"): {("spec", "a")}}
    applied = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "n"}, "status": {"p": 1}}
    found = ownership.conflicts(owners, ownership.Manager("me", "Apply"), live, applied, True)
    assert found == []
