"""The real kubectl against the emulator (subprocesses with timeouts)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.devcluster.devcluster_http import CRD_PATH

RUN = """
apiVersion: kubemigrate.io/v1alpha1
kind: MigrationRun
metadata:
  name: {name}
  namespace: {namespace}
spec:
  action: {action}
  database: {{secretRef: {{name: db}}}}
  source: {{configMap: {{name: migs}}}}
"""


@pytest.fixture(scope="module")
def ns(kubectl: Any) -> str:
    name = f"k-{uuid.uuid4().hex[:6]}"
    manifest = kubectl("create", "namespace", name, "--dry-run=client", "-o", "yaml").stdout
    kubectl("apply", "-f", "-", stdin=manifest)
    kubectl("apply", "-f", str(CRD_PATH))
    kubectl(
        "wait", "--for=condition=Established", "crd/migrationruns.kubemigrate.io", "--timeout=10s"
    )
    return name


def test_apply_get_and_printer_columns(kubectl: Any, ns: str) -> None:
    out = kubectl(
        "apply", "-f", "-", stdin=RUN.format(name="r1", namespace=ns, action="migrate")
    ).stdout
    assert "migrationrun.kubemigrate.io/r1 created" in out
    table = kubectl("get", "mr", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "ACTION", "PHASE", "APPLIED", "PENDING", "AGE"]
    assert table[1].split()[:2] == ["r1", "migrate"]
    again = kubectl(
        "apply", "-f", "-", stdin=RUN.format(name="r1", namespace=ns, action="migrate")
    ).stdout
    assert "unchanged" in again


def test_apply_of_a_bad_spec_prints_the_schema_message(kubectl: Any, ns: str) -> None:
    result = kubectl(
        "apply", "-f", "-", stdin=RUN.format(name="bad", namespace=ns, action="foo"), check=False
    )
    assert result.returncode == 1
    assert (
        'spec.action: Unsupported value: "foo": supported values: "migrate", "rollback"'
        in result.stderr
    )


def test_output_formats(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-f", "-", stdin=RUN.format(name="r2", namespace=ns, action="rollback"))
    as_json = json.loads(kubectl("get", "mr", "r2", "-n", ns, "-o", "json").stdout)
    assert as_json["metadata"]["uid"]
    assert (
        "kind: MigrationRun" in kubectl("get", "migrationrun", "r2", "-n", ns, "-o", "yaml").stdout
    )
    path = kubectl("get", "mr", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}").stdout
    assert "r2" in path.split()
    assert "Rollback" in kubectl("describe", "mr", "r2", "-n", ns).stdout.replace(
        "rollback", "Rollback"
    )


def test_patch_and_wait_for_jsonpath_and_condition(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-f", "-", stdin=RUN.format(name="r3", namespace=ns, action="migrate"))
    status = {"status": {"phase": "Succeeded", "conditions": [{"type": "Ready", "status": "True"}]}}
    kubectl(
        "patch",
        "mr",
        "r3",
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    kubectl("wait", "mr/r3", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", "--timeout=10s")
    kubectl("wait", "mr/r3", "-n", ns, "--for=condition=Ready", "--timeout=10s")
    kubectl(
        "patch", "mr", "r3", "-n", ns, "--type", "merge", "-p", '{"metadata":{"labels":{"a":"b"}}}'
    )
    assert (
        kubectl("get", "mr", "-n", ns, "-l", "a=b", "-o", "name").stdout.strip()
        == "migrationrun.kubemigrate.io/r3"
    )


def test_configmap_from_file_through_dry_run_pipe(kubectl: Any, ns: str, tmp_path: Any) -> None:
    sql = tmp_path / "0001_init.sql"
    sql.write_text("create table t (id int);\n")
    manifest = kubectl(
        "create",
        "configmap",
        "migs",
        "-n",
        ns,
        f"--from-file={sql}",
        "--dry-run=client",
        "-o",
        "yaml",
    ).stdout
    kubectl("apply", "-f", "-", stdin=manifest)
    data = json.loads(kubectl("get", "cm", "migs", "-n", ns, "-o", "json").stdout)["data"]
    assert data == {"0001_init.sql": "create table t (id int);\n"}


def test_plain_create_sends_protobuf_and_is_decoded(kubectl: Any, ns: str) -> None:
    # kubectl create sends protobuf for built-in kinds; the emulator decodes the common ones.
    kubectl("create", "configmap", "direct", "-n", ns, "--from-literal=a=b")
    data = json.loads(kubectl("get", "cm", "direct", "-n", ns, "-o", "json").stdout)["data"]
    assert data == {"a": "b"}


def test_plain_create_of_an_unmodelled_protobuf_kind_is_refused(kubectl: Any, ns: str) -> None:
    result = kubectl("create", "deployment", "direct", "-n", ns, "--image=nginx", check=False)
    assert result.returncode != 0
    assert "unknown format" in result.stderr


def test_delete_and_wait_for_delete(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-f", "-", stdin=RUN.format(name="r4", namespace=ns, action="migrate"))
    kubectl("delete", "mr", "r4", "-n", ns, "--wait=true", "--timeout=10s")
    missing = kubectl("get", "mr", "r4", "-n", ns, check=False)
    assert missing.returncode == 1
    assert 'migrationruns.kubemigrate.io "r4" not found' in missing.stderr
