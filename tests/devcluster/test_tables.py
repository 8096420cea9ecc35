"""Server-side Table output."""

from __future__ import annotations

import datetime
import itertools
import re
from typing import Any

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


def _table(api: Http, path: str) -> dict[str, Any]:
    reply = api.get(path, accept=TABLE)
    assert reply.status == 200, reply.body
    table: dict[str, Any] = reply.body
    return table


def _header(out: str) -> list[str]:
    return re.split(r"\s{2,}", out.splitlines()[0].strip())


def test_events_print_like_the_real_server(api: Http, kubectl: Any, namespace: str) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "metadata": {"name": "j.1"},
        "involvedObject": {"kind": "Job", "name": "j", "namespace": namespace},
        "reason": "FailedCreate",
        "message": "Error creating: pods is forbidden ",
        "type": "Warning",
        "source": {"component": "job-controller"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 3,
    }
    assert api.post(f"/api/v1/namespaces/{namespace}/events", event).status == 201
    table = _table(api, f"/api/v1/namespaces/{namespace}/events")
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    cells = table["rows"][0]["cells"]
    assert cells[1:] == [
        "Warning",
        "FailedCreate",
        "job/j",
        "",
        "job-controller",
        "Error creating: pods is forbidden",
        cells[7],
        3,
        "j.1",
    ]
    assert cells[0].endswith("s")
    out = kubectl("get", "events", "-n", namespace).stdout
    assert _header(out) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "job/j" in out.splitlines()[1]
    wide = kubectl("get", "events", "-n", namespace, "-o", "wide").stdout
    assert _header(wide) == [
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ]


def test_events_k8s_io_events_use_the_same_columns(api: Http, namespace: str) -> None:
    event = {
        "metadata": {"name": "e2"},
        "eventTime": "2020-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Pod", "name": "p"},
        "reason": "FailedScheduling",
        "note": "0/1 nodes are available",
        "type": "Warning",
        "action": "Scheduling",
        "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-x",
    }
    assert api.post(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", event).status == 201
    cells = _table(api, f"/apis/events.k8s.io/v1/namespaces/{namespace}/events")["rows"][0]["cells"]
    assert cells[1:7] == [
        "Warning",
        "FailedScheduling",
        "pod/p",
        "",
        "default-scheduler, default-scheduler-x",
        "0/1 nodes are available",
    ]
    assert cells[0] == cells[7]  # no lastTimestamp: the first sighting
    assert cells[8] == 1


def test_jobs_have_status_completions_duration(api: Http, kubectl: Any, namespace: str) -> None:
    path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
            }
        },
    }
    created = api.post(path, job).body
    api.put(
        f"{path}/j/status",
        {
            "metadata": {"name": "j"},
            "status": {
                "startTime": "2024-01-01T00:00:00Z",
                "completionTime": "2024-01-01T00:01:05Z",
                "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True"},
                ],
            },
        },
    )
    table = _table(api, f"{path}/j")
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0),
        ("Status", 0),
        ("Completions", 0),
        ("Duration", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    uid = created["metadata"]["uid"]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["j", "Complete", "1/1", "65s"]
    assert cells[5:] == ["c", "x:1", f"batch.kubernetes.io/controller-uid={uid}"]
    out = kubectl("get", "jobs", "-n", namespace).stdout
    assert _header(out) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert out.splitlines()[1].split()[:4] == ["j", "Complete", "1/1", "65s"]


def test_crds_show_created_at(api: Http, kubectl: Any, crd: object) -> None:
    table = _table(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Created At", "date"),
    ]
    out = kubectl("get", "crd").stdout
    assert _header(out) == ["NAME", "CREATED AT"]
    row = next(line for line in out.splitlines() if "migrationruns" in line).split()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[1])


def test_service_accounts(kubectl: Any, namespace: str) -> None:
    out = kubectl("get", "sa", "-n", namespace).stdout
    assert _header(out) == ["NAME", "SECRETS", "AGE"]
    assert out.splitlines()[1].split()[:2] == ["default", "0"]


_TYPED_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "additionalPrinterColumns": [
                    {"name": "Dry-Run", "type": "boolean", "jsonPath": ".spec.dryRun"},
                    {"name": "Flag", "type": "string", "jsonPath": ".spec.dryRun"},
                    {"name": "Count", "type": "integer", "jsonPath": ".spec.count"},
                    {"name": "Ratio", "type": "number", "jsonPath": ".spec.count"},
                    {"name": "Seen", "type": "boolean", "jsonPath": ".spec.count"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "dryRun": {"type": "boolean"},
                                    "count": {"x-kubernetes-int-or-string": True},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_printer_columns_are_typed_like_the_apiextensions_table_convertor(
    api: Http, kubectl: Any, namespace: str
) -> None:
    """A boolean column is a JSON boolean (kubectl prints true/false), a missing value or
    one not of the column's type is null (kubectl prints nothing), and a string column
    prints any value as text (cellForJSONValue in apiextensions-apiserver's
    tableconvertor): a MigrationRun's DRY-RUN column is such a boolean."""
    reply = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", _TYPED_CRD)
    assert reply.status in (201, 409), reply.body
    path = f"/apis/example.com/v1/namespaces/{namespace}/gadgets"
    for name, spec in (
        ("preview", {"dryRun": True, "count": 3}),
        ("real", {"dryRun": False, "count": "many"}),
        ("unset", {}),
    ):
        body = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": name}}
        assert api.post(path, {**body, "spec": spec}).status == 201
    table = api.get(path, accept=TABLE).body
    assert [c["type"] for c in table["columnDefinitions"][1:]] == [
        "boolean",
        "string",
        "integer",
        "number",
        "boolean",
    ]
    cells = {row["cells"][0]: row["cells"][1:] for row in table["rows"]}
    assert cells == {
        "preview": [True, "true", 3, 3.0, None],
        "real": [False, "false", None, None, None],
        "unset": [None, None, None, None, None],
    }
    out = kubectl("get", "gadgets", "-n", namespace).stdout.splitlines()
    header = out[0].split()
    assert header == ["NAME", "DRY-RUN", "FLAG", "COUNT", "RATIO", "SEEN"]
    starts = [out[0].index(name) for name in header] + [None]
    printed = {
        line.split()[0]: [line[a:b].strip() for a, b in itertools.pairwise(starts[1:])]
        for line in out[1:]
    }
    assert printed == {  # a null cell prints as nothing
        "preview": ["true", "true", "3", "3", ""],
        "real": ["false", "false", "", "", ""],
        "unset": ["", "", "", "", ""],
    }
