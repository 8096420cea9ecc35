"""Discovery documents, version, OpenAPI stubs, and CRD registration."""

from __future__ import annotations

from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_deletion import eventually


def test_core_discovery(api: Http) -> None:
    assert api.get("/api").body["versions"] == ["v1"]
    core = api.get("/api/v1").body
    assert core["kind"] == "APIResourceList"
    assert core["groupVersion"] == "v1"
    names = {r["name"] for r in core["resources"]}
    assert {
        "namespaces",
        "configmaps",
        "secrets",
        "pods",
        "pods/status",
        "events",
        "serviceaccounts",
    } <= names


def test_group_discovery(api: Http) -> None:
    groups = {g["name"]: g for g in api.get("/apis").body["groups"]}
    assert {"batch", "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io"} <= set(groups)
    assert groups["batch"]["preferredVersion"] == {"groupVersion": "batch/v1", "version": "v1"}
    batch = api.get("/apis/batch/v1").body
    jobs = next(r for r in batch["resources"] if r["name"] == "jobs")
    assert jobs["kind"] == "Job"
    assert jobs["namespaced"] is True
    assert api.get("/apis/batch").body["kind"] == "APIGroup"


def test_version_looks_real(api: Http) -> None:
    version = api.get("/version").body
    assert version["gitVersion"].startswith("v1.")
    assert version["major"] == "1"


def test_openapi_stubs(api: Http, crd: object) -> None:
    assert api.get("/openapi/v2").status == 200
    root = api.get("/openapi/v3").body
    url = root["paths"]["apis/kubemigrate.io/v1alpha1"]["serverRelativeURL"]
    doc = api.get(url.split("?")[0]).body
    patch = next(iter(doc["paths"].values()))["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "MigrationRun"
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}


def test_crd_registers_its_resource(api: Http, crd: object) -> None:
    resources = api.get("/apis/kubemigrate.io/v1alpha1").body["resources"]
    main = next(r for r in resources if r["name"] == "migrationruns")
    assert main["kind"] == "MigrationRun"
    assert main["singularName"] == "migrationrun"
    assert main["shortNames"] == ["mr"]
    assert main["namespaced"] is True
    assert any(r["name"] == "migrationruns/status" for r in resources)
    stored = api.get(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/migrationruns.kubemigrate.io"
    ).body
    conditions = {c["type"]: c["status"] for c in stored["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}


def test_deleting_a_crd_unregisters_it(api: Http) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "widgets", "kind": "Widget"},
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
    assert api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201
    assert api.post("/apis/example.com/v1/widgets", {"metadata": {"name": "w"}}).status == 201
    api.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    eventually(lambda: api.get("/apis/example.com/v1").status == 404)  # once its instances go
    assert api.get("/apis/example.com/v1/widgets").status == 404


def test_crd_with_a_broken_cel_rule_is_rejected(api: Http) -> None:
    crd = {
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-validations": [{"rule": "self.a =="}],
                        }
                    },
                }
            ],
        },
    }
    reply = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert reply.status == 422
    assert "compilation failed" in reply.body["message"]
