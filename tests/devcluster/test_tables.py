"""Server-side Table output."""

from __future__ import annotations

from tests.devcluster.devcluster_http import Http, run_body, runs_path

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_custom_resource_table_uses_printer_columns(api: Http, namespace: str, crd: object) -> None:
    api.post(runs_path(namespace), run_body("tab"))
    api.patch(
        runs_path(namespace, "tab") + "/status",
        {"status": {"phase": "Succeeded", "counts": {"applied": 2, "pending": 0}}},
    )
    table = api.get(runs_path(namespace), accept=TABLE).body
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Action",
        "Phase",
        "Applied",
        "Pending",
        "Age",
    ]
    assert table["columnDefinitions"][5]["type"] == "date"
    row = table["rows"][0]
    assert row["cells"][:5] == ["tab", "migrate", "Succeeded", 2, 0]
    assert row["cells"][5].endswith("s")  # an age, like "0s"
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_builtin_table_and_single_object(api: Http, namespace: str) -> None:
    api.post(
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"metadata": {"name": "t"}, "data": {"a": "b"}},
    )
    table = api.get(f"/api/v1/namespaces/{namespace}/configmaps/t", accept=TABLE).body
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["t", 1]


def test_plain_json_when_table_not_asked(api: Http, namespace: str) -> None:
    assert api.get(f"/api/v1/namespaces/{namespace}/configmaps").body["kind"] == "ConfigMapList"
