"""Deleting a CRD (see apiserver/crdcleanup.py): marked, its instances deleted, then gone.

Expected answers from apiextensions-apiserver: the CRD REST's Delete, the CRD
finalizer controller and the crdHandler's refusal to create while terminating.
"""

from __future__ import annotations

from typing import Any

from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_deletion import eventually

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def gadget_crd() -> dict[str, Any]:
    return {
        "metadata": {"name": "gizmos.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gizmos", "kind": "Gizmo"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def gizmos(namespace: str, name: str = "") -> str:
    base = f"/apis/example.com/v1/namespaces/{namespace}/gizmos"
    return f"{base}/{name}" if name else base


def terminating(crd: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        c for c in crd["status"]["conditions"] if c["type"] == "Terminating"
    ]
    assert len(found) == 1
    return found[0]


def test_a_crd_goes_only_after_its_instances(api: Http, namespace: str) -> None:
    assert api.post(CRDS, gadget_crd()).status == 201
    held = {"metadata": {"name": "held", "finalizers": ["example.com/cleanup"]}}
    assert api.post(gizmos(namespace), held).status == 201
    assert api.post(gizmos(namespace), {"metadata": {"name": "free"}}).status == 201

    reply = api.delete(f"{CRDS}/gizmos.example.com")

    assert reply.status == 200
    assert reply.body["kind"] == "CustomResourceDefinition"
    assert reply.body["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    assert reply.body["metadata"]["deletionTimestamp"]
    assert terminating(reply.body)["reason"] == "InstanceDeletionPending"
    eventually(lambda: api.get(gizmos(namespace, "free")).status == 404)
    crd = api.get(f"{CRDS}/gizmos.example.com").body
    assert terminating(crd)["reason"] == "InstanceDeletionInProgress"
    assert api.get(gizmos(namespace, "held")).body["metadata"]["deletionTimestamp"]
    refused = api.post(gizmos(namespace), {"metadata": {"name": "late"}})
    assert refused.status == 405
    assert refused.body["message"] == (
        "create not allowed while custom resource definition is terminating"
    )

    api.patch(gizmos(namespace, "held"), {"metadata": {"finalizers": None}})

    eventually(lambda: api.get(f"{CRDS}/gizmos.example.com").status == 404)
    assert api.get("/apis/example.com/v1").status == 404
