"""The operator end to end: kubectl, the local cluster and a real PostgreSQL.

Everything here is what a team would do and see: apply YAML, wait, read
``kubectl get``, the status, the Events, the metrics, and the database itself.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from kubemigrate.controller import jobs
from kubemigrate.devcluster.cluster import LocalCluster, repo_file, wait_for
from kubemigrate.engine.postgres import LOCK_CLASS, TRACKING_TABLE
from tests.e2e.conftest import Namespace
from tests.e2e.stopping import StoppingProxy, server_of

SHOP = repo_file("examples", "shop")
SHOP_FILES = [
    "0000_initial_schema.sql",
    "0001_add_products.sql",
    "0002_add_orders.sql",
    "0003_index_orders_by_customer.sql",
    "0004_add_analytics.sql",
]


def run_yaml(name: str, *, action: str = "migrate", source: Any = None, **spec: Any) -> str:
    """A MigrationRun manifest as a user would write it."""
    body = {
        "apiVersion": "kubemigrate.io/v1alpha1",
        "kind": "MigrationRun",
        "metadata": {"name": name},
        "spec": {
            "action": action,
            "database": {"secretRef": {"name": "db"}},
            "source": source or {"configMap": {"name": "migrations"}},
            **spec,
        },
    }
    return yaml.safe_dump(body, sort_keys=False)


def inline(*migrations: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "inline": [
            {"name": n, "up": up, **({"down": down} if down else {})} for n, up, down in migrations
        ]
    }


def times_applied(url: str) -> dict[str, int]:
    """How many times the history says each migration was applied."""
    with psycopg.connect(url) as conn:
        counts = conn.execute(
            "SELECT migration_name, count(*) FROM __migration_history WHERE action = 'applied' "
            "GROUP BY migration_name"
        ).fetchall()
    return dict(counts)


def tracked(url: str) -> list[str]:
    """The tracking table's names in order; none when kubemigrate never wrote it."""
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('__migration_tracking')").fetchone()
        if not exists or exists[0] is None:
            return []
        rows = conn.execute("SELECT migration_name FROM __migration_tracking ORDER BY id")
        return [r[0] for r in rows]


def jobs_of(ns: Namespace, run: str) -> list[dict[str, Any]]:
    return ns.items("jobs", f"kubemigrate.io/run={run}")


def condition(body: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == ctype)


def reason(body: dict[str, Any], ctype: str) -> str | None:
    """The condition's reason, None while the run has no such condition (or no status:
    a poll right after `kubectl apply` may come before the operator's first write)."""
    conditions = (body.get("status") or {}).get("conditions") or ()
    return next((str(c.get("reason")) for c in conditions if c["type"] == ctype), None)


def deployed(ns: Namespace, environment: str) -> None:
    """The namespace labelled for ``environment``, and the shop's migrations applied."""
    ns.kubectl("label", "namespace", ns.name, f"kubemigrate.io/environment={environment}")
    ns.apply(run_yaml("deploy"))
    ns.wait_phase("deploy", "Succeeded")


@pytest.fixture
def shop(namespace: Namespace, database_url: str) -> Namespace:
    namespace.secret("db", database_url)
    namespace.configmap("migrations", SHOP)
    return namespace


def test_apply_runs_the_migrations_and_reports_them(shop: Namespace, database_url: str) -> None:
    shop.apply(run_yaml("first"))
    body = shop.wait_phase("first", "Succeeded")
    status = body["status"]
    assert [m["name"] for m in status["migrations"]] == SHOP_FILES
    assert (status["applied"], status["pending"], status["batch"]) == (5, 0, 1)
    assert condition(body, "Complete")["status"] == "True"
    assert status["observedGeneration"] == body["metadata"]["generation"]
    assert status["startedAt"] <= status["completedAt"]
    assert tracked(database_url) == SHOP_FILES
    table = shop.kubectl("get", "mr", "first").stdout
    header = ["NAME", "ACTION", "DRY-RUN", "PHASE", "APPLIED", "PENDING", "AGE"]
    assert table.split("\n")[0].split() == header
    assert table.split("\n")[1].split()[:6] == ["first", "migrate", "false", "Succeeded", "5", "0"]
    reasons = [e["reason"] for e in shop.events("first")]
    assert "JobCreated" in reasons
    assert "Succeeded" in reasons
    # condition-based waiting works as for any well-behaved resource
    assert (
        shop.kubectl("wait", "mr/first", "--for=condition=Complete", "--timeout=5s").returncode == 0
    )


def test_failing_sql_fails_the_run_with_file_sqlstate_and_message(
    namespace: Namespace, database_url: str
) -> None:
    namespace.secret("db", database_url)
    source = inline(
        ("0000_ok", "CREATE TABLE fine (id int);", "DROP TABLE fine;"),
        (
            "0001_bad",
            "CREATE TABLE half (id int);\n--> statement-breakpoint\nSELECT * FROM missing_table;",
            "",
        ),
    )
    namespace.apply(run_yaml("broken", source=source))
    body = namespace.wait_phase("broken", "Failed")
    error = body["status"]["error"]
    assert error["migration"] == "0001_bad.sql"
    assert error["sqlState"] == "42P01"
    assert 'relation "missing_table" does not exist' in error["message"]
    assert error["reason"] == "MigrationFailed"
    # where to look, in the file the run read: the CRD keeps both
    assert (error["position"], error["file"]) == ("line 3, column 15", "0001_bad.sql")
    failed = condition(body, "Failed")
    assert failed["status"] == "True"
    assert failed["reason"] == "MigrationFailed"
    assert tracked(database_url) == [
        "0000_ok.sql"
    ]  # the earlier migration is kept, nothing of the bad one
    # and the status says so: what this run applied before failing, and where that leaves
    # the database (kubectl get mr shows APPLIED 1, PENDING 1)
    status = body["status"]
    assert [m["name"] for m in status["migrations"]] == ["0000_ok.sql"]
    assert (status["applied"], status["pending"], status["total"]) == (1, 1, 2)


def test_an_invalid_spec_is_rejected_by_kubectl_apply_and_creates_no_job(
    namespace: Namespace,
) -> None:
    bad = run_yaml("bad", action="explode")
    result = namespace.apply(bad, check=False)
    assert result.returncode != 0
    assert 'spec.action: Unsupported value: "explode"' in result.stderr
    two_sources = run_yaml(
        "two",
        source={"configMap": {"name": "migrations"}, "image": {"reference": "example/m:1"}},
    )
    result = namespace.apply(two_sources, check=False)
    assert result.returncode != 0
    assert "exactly one" in result.stderr.lower()
    steps_on_migrate = run_yaml("steps", steps=2)
    result = namespace.apply(steps_on_migrate, check=False)
    assert result.returncode != 0
    assert "steps" in result.stderr
    assert namespace.items("mr") == []
    assert namespace.items("jobs") == []


def test_production_rollback_waits_for_the_phrase_then_rolls_back(
    shop: Namespace, database_url: str
) -> None:
    deployed(shop, "production")
    shop.apply(run_yaml("undo", action="rollback"))
    body = shop.wait_phase("undo", "AwaitingConfirmation")
    status = body["status"]
    assert status["confirmationPhrase"] == "rollback-batch-1"
    assert status["plannedMigrations"] == list(reversed(SHOP_FILES))
    message = condition(body, "AwaitingConfirmation")["message"]
    assert "rollback-batch-1" in message
    assert "0004_add_analytics.sql" in message
    assert tracked(database_url) == SHOP_FILES  # nothing rolled back yet

    # a wrong phrase is refused and nothing changes
    shop.kubectl(
        "patch", "mr", "undo", "--type", "merge", "-p", '{"spec":{"confirm":"rollback-batch-9"}}'
    )
    wait_for(
        lambda: (
            condition(shop.get("mr", "undo"), "AwaitingConfirmation")["reason"]
            == "ConfirmationMismatch"
        ),
        timeout=30,
        what="the mismatch to be reported",
    )
    assert tracked(database_url) == SHOP_FILES

    # the command in the message, copied as it is (not from within the namespace)
    command = shlex.split(message.split("confirm with ", 1)[1])
    assert command[:4] == ["kubectl", "patch", "mr", "undo"]
    shop.cluster.kubectl(*command[1:])
    body = shop.wait_phase("undo", "Succeeded")
    assert [m["name"] for m in body["status"]["migrations"]] == list(reversed(SHOP_FILES))
    assert tracked(database_url) == []
    assert len(jobs_of(shop, "undo")) == 2  # the read-only plan Job and the real one


def test_a_production_rollback_confirmed_before_its_plan_ends_goes_ahead_when_it_matches(
    shop: Namespace, database_url: str
) -> None:
    """The phrase known beforehand (a dry run's) or patched in while the plan Job runs:
    spec.confirm does not change again when the plan lands, so nothing else would."""
    deployed(shop, "production")
    shop.apply(run_yaml("undo", action="rollback"))
    shop.kubectl(  # at once: the plan Job has not reported yet
        "patch", "mr", "undo", "--type", "merge", "-p", '{"spec":{"confirm":"rollback-batch-1"}}'
    )
    body = shop.wait_phase("undo", "Succeeded")
    assert [m["name"] for m in body["status"]["migrations"]] == list(reversed(SHOP_FILES))
    assert tracked(database_url) == []


def test_a_production_rollback_confirmed_after_another_deploy_fails_and_says_what_next(
    shop: Namespace, database_url: str
) -> None:
    shop.kubectl("label", "namespace", shop.name, "kubemigrate.io/environment=production")
    shop.apply(run_yaml("first", target="0002_add_orders.sql"))
    shop.wait_phase("first", "Succeeded")
    shop.apply(run_yaml("undo", action="rollback"))
    assert shop.wait_phase("undo", "AwaitingConfirmation")["status"]["confirmationPhrase"] == (
        "rollback-batch-1"
    )
    shop.apply(run_yaml("second"))  # batch 2 lands while the phrase for batch 1 waits
    shop.wait_phase("second", "Succeeded")
    shop.kubectl(
        "patch", "mr", "undo", "--type", "merge", "-p", '{"spec":{"confirm":"rollback-batch-1"}}'
    )
    body = shop.wait_phase("undo", "Failed")
    status = body["status"]
    # a phrase was given, for the batch before: it does not match, as a wrong one patched in
    # while the run waits does not (the engine calls both ConfirmationRequired)
    assert condition(body, "Failed")["reason"] == status["error"]["reason"]
    assert status["error"]["reason"] == "ConfirmationMismatch"
    assert "'rollback-batch-1' does not match this rollback" in status["error"]["message"]
    assert "create a new rollback MigrationRun" in status["error"]["hint"]
    assert "confirmationPhrase" not in status  # a phrase patched in now would do nothing
    assert "plannedMigrations" not in status
    assert tracked(database_url) == SHOP_FILES  # nothing rolled back


def mismatch_reported(ns: Namespace, run: str) -> dict[str, Any]:
    """The run once it says its spec.confirm is not the phrase; still waiting."""

    def reported() -> bool:
        conditions = (ns.get("mr", run).get("status") or {}).get("conditions") or []
        return any(
            c["type"] == "AwaitingConfirmation" and c.get("reason") == "ConfirmationMismatch"
            for c in conditions
        )

    wait_for(reported, timeout=60, what="the mismatch to be reported")
    body = ns.get("mr", run)
    assert body["status"]["phase"] == "AwaitingConfirmation"
    return body


def test_a_staging_reset_waits_for_its_word_then_resets(shop: Namespace, database_url: str) -> None:
    """Only the word its message shows confirms it: `confirm: "no"`, written to hold
    the run, rolled back every migration."""
    deployed(shop, "staging")
    shop.apply(run_yaml("wipe", action="reset"))
    body = shop.wait_phase("wipe", "AwaitingConfirmation")
    message = condition(body, "AwaitingConfirmation")["message"]
    assert message.startswith("staging reset would undo 0004_add_analytics.sql, ")
    assert message.endswith('-p \'{"spec":{"confirm":"reset"}}\'')
    assert tracked(database_url) == SHOP_FILES  # nothing undone yet
    shop.kubectl("patch", "mr", "wipe", "--type", "merge", "-p", '{"spec":{"confirm":"no"}}')
    held = mismatch_reported(shop, "wipe")
    assert "set it to 'reset'" in condition(held, "AwaitingConfirmation")["message"]
    assert tracked(database_url) == SHOP_FILES
    shop.kubectl("patch", "mr", "wipe", "--type", "merge", "-p", '{"spec":{"confirm":"reset"}}')
    shop.wait_phase("wipe", "Succeeded")
    assert tracked(database_url) == []


def test_a_staging_reset_created_with_another_word_waits(
    shop: Namespace, database_url: str
) -> None:
    deployed(shop, "staging")
    shop.apply(run_yaml("wipe", action="reset", confirm="yes"))
    held = mismatch_reported(shop, "wipe")
    assert "set it to 'reset'" in condition(held, "AwaitingConfirmation")["message"]
    assert tracked(database_url) == SHOP_FILES


def test_production_reset_is_refused_without_a_job(shop: Namespace) -> None:
    shop.apply(run_yaml("wipe", action="reset", environment="production"))
    body = shop.wait_phase("wipe", "Failed")
    assert condition(body, "Failed")["reason"] == "RefusedBySafetyRules"
    assert jobs_of(shop, "wipe") == []


def test_a_missing_secret_fails_the_run_naming_it_and_creates_no_job(namespace: Namespace) -> None:
    namespace.configmap("migrations", SHOP)
    namespace.apply(run_yaml("orphan"))
    body = namespace.wait_phase("orphan", "Failed")
    failed = condition(body, "Failed")
    assert failed["reason"] == "SecretNotFound"
    assert f"Secret {namespace.name}/db not found" in failed["message"]
    assert namespace.items("jobs") == []


def test_the_shipped_samples_work_one_after_the_other(
    namespace: Namespace, database_url: str
) -> None:
    def sample(name: str) -> str:
        text = repo_file("manifests", "samples", name).read_text()
        return text.replace("namespace: shop\n", f"namespace: {namespace.name}\n")

    namespace.secret("shop-db", database_url)
    namespace.apply(sample("configmap.yaml") + "---\n" + sample("migrationrun-migrate.yaml"))
    namespace.wait_phase("shop-migrate", "Succeeded")
    namespace.apply(sample("migrationrun-inline.yaml"))
    status = namespace.wait_phase("shop-add-order-status", "Succeeded")["status"]
    assert [m["name"] for m in status["migrations"]] == ["0002_add_order_status.sql"]
    assert tracked(database_url) == [
        "0000_create_customers.sql",
        "0001_create_orders.sql",
        "0002_add_order_status.sql",
    ]


def test_a_missing_configmap_fails_the_run_naming_it(
    namespace: Namespace, database_url: str
) -> None:
    namespace.secret("db", database_url)
    namespace.apply(run_yaml("nofiles"))
    body = namespace.wait_phase("nofiles", "Failed")
    assert condition(body, "Failed")["reason"] == "ConfigMapNotFound"
    # the README's command: the journal alone from meta/, never drizzle-kit's snapshots
    message = condition(body, "Failed")["message"]
    assert "--from-file=drizzle/ --from-file=drizzle/meta/_journal.json)" in message
    assert namespace.items("jobs") == []


def test_a_file_missing_from_the_configmap_is_named_in_the_configmap_s_terms(
    namespace: Namespace, database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "shop"
    shutil.copytree(SHOP, folder)
    (folder / "0002_add_orders.sql").unlink()
    namespace.secret("db", database_url)
    namespace.configmap("migrations", folder)
    namespace.apply(run_yaml("gap"))
    error = namespace.wait_phase("gap", "Failed")["status"]["error"]
    # the pod's mount path means nothing to the run's author; the ConfigMap does
    assert "0002_add_orders.sql is missing from ConfigMap migrations" in error["message"]
    assert "/migrations" not in error["message"]
    assert tracked(database_url) == []


def test_an_unreachable_database_is_retried_then_fails_as_unreachable(namespace: Namespace) -> None:
    from kubemigrate.devcluster.postgres import free_port

    password = "unreachable-pw-5cret"
    namespace.secret("db", f"postgresql://app:{password}@127.0.0.1:{free_port()}/app")
    namespace.configmap("migrations", SHOP)
    namespace.apply(run_yaml("down", job={"backoffLimit": 1}))
    body = namespace.wait_phase("down", "Failed", timeout=120)
    assert condition(body, "Failed")["reason"] == "DatabaseUnreachable"
    assert body["status"]["error"]["reason"] == "DatabaseUnreachable"
    pods = namespace.items("pods", f"job-name={body['status']['jobName']}")
    assert len(pods) == 2  # retried once (exit 75 counts against backoffLimit), then failed
    assert condition(body, "Failed")["message"].startswith("after 2 attempts: ")
    assert password not in json.dumps(body)


def _failed_in_history(url: str, migration: str) -> bool:
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('__migration_history')").fetchone()
        if not exists or exists[0] is None:
            return False
        row = conn.execute(
            "SELECT 1 FROM __migration_history WHERE action = 'failed' AND migration_name = %s",
            (migration,),
        ).fetchone()
        return row is not None


def test_a_job_that_retried_its_pod_reports_every_migration_of_the_run_once(
    cluster: LocalCluster, namespace: Namespace, database_url: str
) -> None:
    """The first Pod applies two migrations, then meets a lock timeout on a table the
    application holds (exit 75, which the Job retries); a later Pod applies the rest.
    Only the last Pod's result is read: it reports the earlier Pod's work too."""
    namespace.secret("db", database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE blocker (id int)")
    source = inline(
        ("0000_a", "CREATE TABLE a (id int);", "DROP TABLE a;"),
        ("0001_b", "CREATE TABLE b (id int);", "DROP TABLE b;"),
        ("0002_touch", "ALTER TABLE blocker ADD COLUMN note text;", ""),
        ("0003_c", "CREATE TABLE c (id int);", "DROP TABLE c;"),
    )
    names = ["0000_a.sql", "0001_b.sql", "0002_touch.sql", "0003_c.sql"]
    with psycopg.connect(database_url) as holder:  # a transaction, until it is rolled back
        holder.execute("LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE")
        namespace.apply(
            run_yaml(
                "retried",
                source=source,
                timeouts={"lockTimeoutMs": 300},
                job={"backoffLimit": 6},
            )
        )
        wait_for(
            lambda: _failed_in_history(database_url, "0002_touch.sql"),
            timeout=60,
            what="the first Pod to meet the lock timeout",
        )
        assert tracked(database_url) == names[:2]
        holder.rollback()
    body = namespace.wait_phase("retried", "Succeeded", timeout=120)
    status = body["status"]
    pods = namespace.items("pods", f"job-name={status['jobName']}")
    assert len(pods) >= 2  # retried: the first Pod failed
    assert [m["name"] for m in status["migrations"]] == names
    assert [m.get("earlierAttempt", False) for m in status["migrations"]] == [
        True, True, False, False,
    ]  # fmt: skip
    assert (status["applied"], status["pending"]) == (4, 0)
    assert "batch" not in status
    assert len(status["batches"]) == 2  # one per attempt that applied something
    message = condition(body, "Complete")["message"]
    assert message.startswith("applied 4 migration(s) (batches ")
    assert "; 2 of them by an earlier attempt of this run): " in message
    assert tracked(database_url) == names
    # counted once: not the last Pod's two, nor the first Pod's result added to them
    database = f'database="{namespace.name}/db"'
    applied = [
        ln
        for ln in cluster.metrics().splitlines()
        if ln.startswith("kubemigrate_migrations_applied_total") and database in ln
    ]
    assert [float(ln.rsplit(" ", 1)[1]) for ln in applied] == [4.0]


def test_deleting_a_run_deletes_its_job_and_pods(shop: Namespace) -> None:
    shop.apply(run_yaml("gone"))
    body = shop.wait_phase("gone", "Succeeded")
    job = body["status"]["jobName"]
    assert jobs_of(shop, "gone")
    shop.kubectl("delete", "mr", "gone", "--wait=true")
    wait_for(lambda: not jobs_of(shop, "gone"), timeout=30, what="the Job to be garbage-collected")
    wait_for(lambda: not shop.items("pods", f"job-name={job}"), timeout=30, what="the pods to go")


def test_two_runs_against_one_database_apply_each_migration_once(
    shop: Namespace, database_url: str
) -> None:
    shop.apply(run_yaml("left") + "---\n" + run_yaml("right"))
    left = shop.wait_phase("left", "Succeeded")
    right = shop.wait_phase("right", "Succeeded")
    applied = [m["name"] for m in left["status"]["migrations"] + right["status"]["migrations"]]
    assert sorted(applied) == SHOP_FILES  # each applied by exactly one of the two
    assert tracked(database_url) == SHOP_FILES
    assert times_applied(database_url) == dict.fromkeys(SHOP_FILES, 1)


def test_operator_killed_while_a_job_runs_adopts_it_after_restart(
    cluster: LocalCluster, namespace: Namespace, database_url: str
) -> None:
    namespace.secret("db", database_url)
    slow = inline(
        (
            "0000_slow",
            "CREATE TABLE slow (id int);\n--> statement-breakpoint\nSELECT pg_sleep(4);",
            "",
        )
    )
    namespace.apply(run_yaml("slow", source=slow))
    wait_for(lambda: bool(jobs_of(namespace, "slow")), timeout=30, what="the Job")
    cluster.parts["operator"].kill()
    cluster.start_operator()
    body = namespace.wait_phase("slow", "Succeeded")
    assert len(jobs_of(namespace, "slow")) == 1
    assert tracked(database_url) == ["0000_slow.sql"]
    assert body["status"]["applied"] == 1


def test_an_operator_stopped_between_its_launch_writes_leaves_a_run_the_next_one_finishes(
    cluster: LocalCluster, shop: Namespace, database_url: str, tmp_path: Path
) -> None:
    """The operator is killed right after the API server applied its first write for a
    new run (before it hears back): the operator started next runs the run with that
    one Job. It wrote Running first, and one stopped there left a run Running without a
    Job, which the next one failed as JobLost although the Job had never existed."""
    ns = shop.name
    launch_writes = {
        ("POST", f"/apis/batch/v1/namespaces/{ns}/jobs"),
        ("PATCH", f"/apis/kubemigrate.io/v1alpha1/namespaces/{ns}/migrationruns/cut/status"),
    }
    cluster.parts["operator"].kill()
    try:
        with StoppingProxy(
            server_of(cluster.kubeconfig),
            stops_after=lambda method, path: (method, path) in launch_writes,
            stop=lambda: os.killpg(cluster.parts["operator"].pid, signal.SIGKILL),
        ) as proxy:
            cluster.start_operator(
                kubeconfig=proxy.kubeconfig(cluster.kubeconfig, tmp_path / "kubeconfig")
            )
            shop.apply(run_yaml("cut"))
            wait_for(proxy.stopped.is_set, timeout=60, what="the operator's first launch write")
            wait_for(
                lambda: not cluster.parts["operator"].alive(), timeout=10, what="it to be gone"
            )
    finally:
        cluster.parts["operator"].kill()  # the proxied one, had the test failed before
        cluster.start_operator()
    body = shop.wait_phase("cut", "Succeeded")
    assert len(jobs_of(shop, "cut")) == 1  # adopted, never created twice
    assert body["status"]["applied"] == len(SHOP_FILES)
    assert tracked(database_url) == SHOP_FILES
    assert times_applied(database_url) == dict.fromkeys(SHOP_FILES, 1)  # the action ran once
    assert "JobLost" not in {e["reason"] for e in shop.events("cut")}


def test_an_operator_listening_on_ipv6_answers_probes_and_scrapes_there(
    cluster: LocalCluster, shop: Namespace
) -> None:
    """listenAddress "::", for an IPv6-only cluster: the kubelet probes and Prometheus
    scrapes a pod's IPv6 address, where an operator bound to 0.0.0.0 never answered
    (its pods restarted forever). start_operator waits for /healthz at [::1]."""
    cluster.parts["operator"].kill()
    try:
        cluster.start_operator(listen_address="::")
        shop.apply(run_yaml("six"))
        shop.wait_phase("six", "Succeeded")
        database = f'database="{shop.name}/db"'
        scraped = cluster.metrics()  # from [::1]
        assert any(
            ln.startswith("kubemigrate_migration_runs_total") and database in ln
            for ln in scraped.splitlines()
        )
    finally:
        cluster.parts["operator"].kill()
        cluster.start_operator()


def test_metrics_count_runs_by_result(cluster: LocalCluster, shop: Namespace) -> None:
    shop.apply(run_yaml("counted"))
    shop.wait_phase("counted", "Succeeded")
    database = f'database="{shop.name}/db"'
    lines = [ln for ln in cluster.metrics().splitlines() if database in ln]
    succeeded = [
        ln
        for ln in lines
        if ln.startswith("kubemigrate_migration_runs_total") and 'result="succeeded"' in ln
    ]
    assert succeeded
    assert float(succeeded[0].rsplit(" ", 1)[1]) == 1.0
    pending = [ln for ln in lines if ln.startswith("kubemigrate_pending_migrations")]
    assert pending
    assert float(pending[0].rsplit(" ", 1)[1]) == 0.0
    applied = [ln for ln in lines if ln.startswith("kubemigrate_migrations_applied_total")]
    assert applied
    assert float(applied[0].rsplit(" ", 1)[1]) == 5.0
    took = [ln for ln in lines if ln.startswith("kubemigrate_migration_duration_seconds_sum")]
    assert took
    seconds = float(took[0].rsplit(" ", 1)[1])
    # the engine's own time, to the 0.1 ms: not the Job's whole-second timestamps
    assert 0 < seconds < 60
    assert seconds != int(seconds)


def test_the_password_never_appears_in_status_events_or_logs(
    cluster: LocalCluster, namespace: Namespace, pg_password_url: tuple[str, str]
) -> None:
    url, password = pg_password_url
    namespace.secret("db", url)
    bad = inline(("0000_fail", "SELECT * FROM nowhere;", ""))
    namespace.apply(run_yaml("leaky", source=bad))
    body = namespace.wait_phase("leaky", "Failed")
    assert password not in json.dumps(body)
    assert password not in json.dumps(namespace.events("leaky"))
    logs = list(cluster.workdir.rglob("*.log"))
    assert logs, "expected operator, apiserver, kubelet and pod logs"
    for log in logs:
        assert password not in log.read_text(errors="replace"), f"password found in {log}"
    job_logs = namespace.kubectl("logs", f"job/{body['status']['jobName']}", check=False).stdout
    assert password not in job_logs


def test_read_only_runs_report_without_changing_anything(
    shop: Namespace, database_url: str
) -> None:
    shop.apply(run_yaml("preview", dryRun=True))
    preview = shop.wait_phase("preview", "Succeeded")
    assert [m["name"] for m in preview["status"]["migrations"]] == SHOP_FILES
    assert tracked(database_url) == []  # a dry run changes nothing
    shop.apply(run_yaml("deploy", target="0002_add_orders.sql"))
    shop.wait_phase("deploy", "Succeeded")
    # `kubectl get mr` tells the preview from the real migrate
    rows = {
        line.split()[0]: line.split()[1:4]
        for line in shop.kubectl("get", "mr", "preview", "deploy").stdout.splitlines()[1:]
    }
    assert rows == {
        "preview": ["migrate", "true", "Succeeded"],
        "deploy": ["migrate", "false", "Succeeded"],
    }
    shop.apply(run_yaml("report", action="status") + "---\n" + run_yaml("check", action="verify"))
    report = shop.wait_phase("report", "Succeeded")["status"]
    assert (report["applied"], report["pending"], report["total"]) == (3, 2, 5)
    assert shop.wait_phase("check", "Succeeded")["status"]["applied"] == 3
    assert tracked(database_url) == SHOP_FILES[:3]
    # a dry run of the actions that change most: the reset's plan, a baseline's preview
    shop.apply(
        run_yaml("no-reset", action="reset", dryRun=True)
        + "---\n"
        + run_yaml("no-baseline", action="baseline", dryRun=True)
    )
    reset = shop.wait_phase("no-reset", "Succeeded")["status"]
    assert [m["name"] for m in reset["migrations"]] == SHOP_FILES[2::-1]
    assert "would" in condition(shop.get("mr", "no-reset"), "Complete")["message"]
    shop.wait_phase("no-baseline", "Succeeded")
    assert tracked(database_url) == SHOP_FILES[:3]


def test_a_missing_secret_key_shows_why_the_pod_cannot_start(
    namespace: Namespace, database_url: str
) -> None:
    namespace.apply(namespace.client_yaml("secret", "generic", "db", "--from-literal=OTHER=x"))
    namespace.configmap("migrations", SHOP)
    namespace.apply(run_yaml("nokey"))
    wait_for(
        lambda: reason(namespace.get("mr", "nokey"), "Running") == "CreateContainerConfigError",
        timeout=60,
        what="the run to say why its pod cannot start",
    )
    message = condition(namespace.get("mr", "nokey"), "Running")["message"]
    assert "DATABASE_URL" in message
    assert "create a new run whose spec.database.secretRef.key names the right one" in message
    assert "Warning" in {e["type"] for e in namespace.events("nokey")}


def test_a_pod_no_node_can_take_shows_why_the_run_waits(shop: Namespace) -> None:
    shop.apply(run_yaml("nowhere", job={"nodeSelector": {"disk": "ssd"}}))
    wait_for(
        lambda: reason(shop.get("mr", "nowhere"), "Running") == "Unschedulable",
        timeout=60,
        what="the run to say its pod cannot be scheduled",
    )
    message = condition(shop.get("mr", "nowhere"), "Running")["message"]
    assert "spec.job.nodeSelector" in message
    assert "Warning" in {e["type"] for e in shop.events("nowhere")}


def test_an_image_source_is_copied_in_by_the_init_container(
    namespace: Namespace, database_url: str
) -> None:
    # The kubelet stand-in ignores images and runs commands on the host, so the
    # "image's" migration folder is a host path: the init container copies it
    # into the pod's emptyDir exactly as it would from a real image.
    namespace.secret("db", database_url)
    source = {"image": {"reference": "registry.example/shop-migrations:1", "path": str(SHOP)}}
    namespace.apply(run_yaml("from-image", source=source))
    body = namespace.wait_phase("from-image", "Succeeded")
    assert [m["name"] for m in body["status"]["migrations"]] == SHOP_FILES
    assert tracked(database_url) == SHOP_FILES


def test_an_image_the_admin_did_not_allow_fails_the_run_without_a_job(
    namespace: Namespace, database_url: str
) -> None:
    """The init container would run any image in the namespace: a MigrationRun's author
    who may not create pods must not get one running an image of their choosing."""
    namespace.secret("db", database_url)
    source = {"image": {"reference": "registry.example.evil/tools:1", "path": str(SHOP)}}
    namespace.apply(run_yaml("foreign-image", source=source))
    body = namespace.wait_phase("foreign-image", "Failed", timeout=40)
    failed = condition(body, "Failed")
    assert failed["reason"] == body["status"]["error"]["reason"] == "InvalidSpec"
    assert "spec.source.image.reference: registry.example.evil/tools:1" in failed["message"]
    assert "KUBEMIGRATE_ALLOWED_SOURCE_IMAGES" in failed["message"]
    assert "operator.allowedSourceImages" in failed["message"]
    assert jobs_of(namespace, "foreign-image") == []
    assert namespace.items("pods") == []
    assert tracked(database_url) == []


def test_objects_squatting_a_run_s_names_are_neither_adopted_nor_deleted(
    cluster: LocalCluster, shop: Namespace, database_url: str
) -> None:
    """Job and inline ConfigMap names follow from the run's uid, so that a restarted
    operator adopts what it made; someone who may create Jobs or ConfigMaps could make
    them first (here while no operator runs, so the race is won every time), to swap
    the SQL or forge the result. The runs fail and the squatters stay as they were."""
    sql = inline(("0000_users", "CREATE TABLE users (id int);", ""))
    cluster.parts["operator"].kill()
    try:
        shop.apply(run_yaml("squatted-job") + "---\n" + run_yaml("squatted-sql", source=sql))
        job_run, sql_run = shop.get("mr", "squatted-job"), shop.get("mr", "squatted-sql")
        job = jobs.job_name("squatted-job", job_run["metadata"]["uid"])
        squatter = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": job, "labels": {jobs.LABEL_MANAGED_BY: jobs.MANAGED_BY}},
            "spec": {
                "suspend": True,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "forge", "image": "busybox", "command": ["true"]}],
                    }
                },
            },
        }
        configmap = jobs.inline_configmap_name("squatted-sql", sql_run["metadata"]["uid"])
        forged_sql = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": configmap,
                # whoever can read the run can name it its owner: the SQL must match too
                "ownerReferences": [
                    {
                        "apiVersion": "kubemigrate.io/v1alpha1",
                        "kind": "MigrationRun",
                        "name": "squatted-sql",
                        "uid": sql_run["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "immutable": True,
            "data": {
                "0000_users.sql": "CREATE TABLE pwned (id int);",
                "_journal.json": jobs.drizzle_journal(["0000_users"]),
            },
        }
        shop.apply(yaml.safe_dump(squatter) + "---\n" + yaml.safe_dump(forged_sql))
    finally:
        cluster.start_operator()
    for run, name in (("squatted-job", f"Job {job}"), ("squatted-sql", f"ConfigMap {configmap}")):
        failed = condition(shop.wait_phase(run, "Failed", timeout=40), "Failed")
        assert failed["reason"] == "AdoptionRefused", failed
        assert f"{name} " in failed["message"]
        assert "is not this run's" in failed["message"]
        assert "neither adopts nor deletes it" in failed["message"]
    found = shop.get("job", job)
    assert "ownerReferences" not in found["metadata"]  # not adopted
    assert found["spec"]["template"]["spec"]["containers"][0]["name"] == "forge"  # nor replaced
    assert shop.get("configmap", configmap)["data"]["0000_users.sql"] == (
        "CREATE TABLE pwned (id int);"
    )
    assert jobs_of(shop, "squatted-sql") == []  # no Job ever mounted the forged SQL
    assert tracked(database_url) == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('pwned')").fetchone() == (None,)


# -- a Job that disappears -------------------------------------------------------


def slow_source(seconds: int = 60) -> dict[str, Any]:
    """One migration that holds its transaction open long enough to be interrupted."""
    return inline(
        (
            "0000_slow",
            f"CREATE TABLE slow (id int);\n--> statement-breakpoint\nSELECT pg_sleep({seconds});",
            "",
        )
    )


def in_flight_matches_running(cluster: LocalCluster) -> bool:
    """The operator's in-flight gauge equals the runs Running in the whole cluster."""
    runs = json.loads(cluster.kubectl("get", "mr", "-A", "-o", "json").stdout)["items"]
    running = sum(1 for r in runs if (r.get("status") or {}).get("phase") == "Running")
    gauge = next(
        float(line.rsplit(" ", 1)[1])
        for line in cluster.metrics().splitlines()
        if line.startswith("kubemigrate_runs_in_flight ")
    )
    return gauge == running


def assert_lost(
    ns: Namespace,
    run: str,
    database_url: str,
    said: str = "was deleted before it reported a result",
) -> None:
    """Failed as JobLost, saying what to check; no second Job; the migration undone."""
    body = ns.wait_phase(run, "Failed", timeout=60)
    failed = condition(body, "Failed")
    assert failed["reason"] == body["status"]["error"]["reason"] == "JobLost"
    job = body["status"]["jobName"]
    assert f"Job {job} {said}" in failed["message"]
    assert "kubemigrate status" in failed["message"]
    wait_for(
        lambda: any(e["reason"] == "JobLost" for e in ns.events(run)),
        timeout=30,
        what="the JobLost Event",
    )
    assert jobs_of(ns, run) == []  # not created again
    wait_for(lambda: not ns.items("pods", f"job-name={job}"), timeout=30, what="the pods to go")
    assert tracked(database_url) == []  # the killed migration rolled back and never ran again


def start_slow_run(namespace: Namespace, database_url: str, name: str) -> str:
    """A migrate run whose migration sleeps, once its Job exists; returns the Job's name."""
    namespace.secret("db", database_url)
    namespace.apply(run_yaml(name, source=slow_source()))
    wait_for(lambda: bool(jobs_of(namespace, name)), timeout=30, what="the Job")
    return str(namespace.get("mr", name)["status"]["jobName"])


def test_a_job_deleted_while_it_runs_fails_the_run_as_lost(
    cluster: LocalCluster, namespace: Namespace, database_url: str
) -> None:
    job = start_slow_run(namespace, database_url, "cut")
    namespace.kubectl("delete", "job", job)
    assert_lost(namespace, "cut", database_url)
    wait_for(
        lambda: in_flight_matches_running(cluster), timeout=30, what="the in-flight gauge to drop"
    )


def test_a_job_deleted_while_the_operator_is_down_is_not_run_again_on_restart(
    cluster: LocalCluster, namespace: Namespace, database_url: str
) -> None:
    job = start_slow_run(namespace, database_url, "orphan")
    cluster.parts["operator"].kill()
    try:
        namespace.kubectl("delete", "job", job)
    finally:
        cluster.start_operator()
    assert_lost(
        namespace, "orphan", database_url, said="was not found when the operator started again"
    )
    wait_for(
        lambda: in_flight_matches_running(cluster), timeout=30, what="the in-flight gauge to settle"
    )


def test_deleting_a_running_run_takes_it_out_of_the_in_flight_gauge(
    cluster: LocalCluster, namespace: Namespace, database_url: str
) -> None:
    start_slow_run(namespace, database_url, "dropped")
    wait_for(lambda: in_flight_matches_running(cluster), timeout=30, what="the run to be in flight")
    namespace.kubectl("delete", "mr", "dropped", "--wait=true")
    wait_for(
        lambda: in_flight_matches_running(cluster), timeout=30, what="the in-flight gauge to drop"
    )
    wait_for(lambda: not jobs_of(namespace, "dropped"), timeout=30, what="the Job to be collected")


def test_a_run_past_its_deadline_reports_what_committed_before_it_was_stopped(
    namespace: Namespace, database_url: str
) -> None:
    """At activeDeadlineSeconds the Job controller deletes the pod; the engine, SIGTERMed,
    rolls the running migration back and writes its result, and the pod is gone by the
    time the Job is Failed. The run still reports that result: what committed, the
    counts, and an error that names the deadline (it said "what it changed is unknown")."""
    namespace.secret("db", database_url)
    source = inline(
        ("0000_base", "CREATE TABLE base (id int);", "DROP TABLE base;"),
        ("0001_slow", "SELECT pg_sleep(40);", ""),
    )
    namespace.apply(run_yaml("late", source=source, job={"activeDeadlineSeconds": 15}))
    body = namespace.wait_phase("late", "Failed", timeout=90)
    status = body["status"]
    assert [m["name"] for m in status["migrations"]] == ["0000_base.sql"]
    assert (status["applied"], status["pending"]) == (1, 1)
    assert status["error"]["reason"] == "Interrupted"
    assert status["error"]["migration"] == "0001_slow.sql"
    failed = condition(body, "Failed")
    assert failed["message"] == status["error"]["message"]
    assert "stopped at the Job's deadline (activeDeadlineSeconds: 15 s)" in failed["message"]
    assert "unknown" not in failed["message"]
    table = namespace.kubectl("get", "mr", "late").stdout.split("\n")[1].split()
    assert table[:6] == ["late", "migrate", "false", "Failed", "1", "1"]  # DRY-RUN: false
    assert tracked(database_url) == ["0000_base.sql"]  # 0001_slow rolled back


def _migrate_connected(url: str) -> bool:
    """Whether a `kubemigrate migrate` process is connected to the database (its pod
    started: it has read the database URL from the Secret)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name LIKE 'kubemigrate migrate%'"
        ).fetchone()
    return bool(row and row[0])


def test_a_run_whose_last_attempt_never_started_reports_its_deadline_and_attempts(
    namespace: Namespace, database_url: str
) -> None:
    """The first pod waits for the migration lock another session holds, meets its
    LockTimeout and is retried; the Secret was deleted meanwhile, so the next pod never
    starts and the Job passes its deadline. The run said LockTimeout, the first pod's
    error, as if the lock had stopped it."""
    namespace.secret("db", database_url)
    source = inline(("0000_a", "CREATE TABLE a (id int);", "DROP TABLE a;"))
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute(
            "SELECT pg_advisory_lock(%s, hashtext(current_database() || '.' || current_schema() "
            "|| %s))",
            (LOCK_CLASS, f".{TRACKING_TABLE}"),
        )
        namespace.apply(
            run_yaml(
                "stuck",
                source=source,
                timeouts={"lockWaitSeconds": 10},
                job={"backoffLimit": 3, "activeDeadlineSeconds": 30},
            )
        )
        wait_for(
            lambda: _migrate_connected(database_url), timeout=30, what="the first pod to connect"
        )
        namespace.kubectl("delete", "secret", "db")  # the next pod cannot start
        body = namespace.wait_phase("stuck", "Failed", timeout=90)
    failed = condition(body, "Failed")
    assert failed["reason"] == body["status"]["error"]["reason"] == "DeadlineExceeded"
    message = failed["message"]
    assert message.startswith("after 2 attempts: ")
    assert (
        "its last attempt's pod never started (CreateContainerConfigError: "
        'secret "db" not found), so it did not touch the database' in message
    )
    assert "; the attempt before it ended with LockTimeout: " in message
    assert tracked(database_url) == []


def test_a_drizzle_kit_1_folder_made_flat_runs_from_a_config_map(
    namespace: Namespace, database_url: str, tmp_path: Any
) -> None:
    """A ConfigMap holds no folders: drizzle-kit 1.0's ``<folder>/migration.sql`` is
    shipped as ``<folder>.sql``, as the README shows, and tracked under that name."""
    fixture = repo_file("tests", "fixtures", "drizzle-kit-1", "drizzle")
    flat = tmp_path / "flat"
    flat.mkdir()
    folders = sorted(p.name for p in fixture.iterdir())
    for folder in folders:
        (flat / f"{folder}.sql").write_text((fixture / folder / "migration.sql").read_text())
    namespace.secret("db", database_url)
    namespace.configmap("migrations", flat)
    namespace.apply(run_yaml("dk1"))
    status = namespace.wait_phase("dk1", "Succeeded")["status"]
    assert (status["applied"], status["pending"]) == (len(folders), 0)
    assert "warnings" not in status
    assert tracked(database_url) == [f"{folder}.sql" for folder in folders]


# -- repair from the cluster -------------------------------------------------------


def test_an_edited_file_is_accepted_by_a_repair_run(
    shop: Namespace, database_url: str, tmp_path: Any
) -> None:
    """A team with only cluster access: verify fails on an edited file, a repair run
    with spec.repair.acceptChecksums records its new checksum, and verify passes."""
    import shutil

    shop.apply(run_yaml("deploy"))
    shop.wait_phase("deploy", "Succeeded")
    edited = tmp_path / "edited"
    shutil.copytree(SHOP, edited)
    changed = edited / "0004_add_analytics.sql"
    changed.write_text(changed.read_text() + "\n-- reviewed: harmless comment added later\n")
    shop.configmap("edited", edited)
    source = {"configMap": {"name": "edited"}}

    shop.apply(run_yaml("check", action="verify", source=source))
    failed = shop.wait_phase("check", "Failed")
    assert condition(failed, "Failed")["reason"] == "IntegrityCheckFailed"
    error = failed["status"]["error"]
    assert error["reason"] == "IntegrityCheckFailed"
    assert "0004_add_analytics.sql" in error["message"]
    assert "a repair run with spec.repair.acceptChecksums" in error["hint"]

    accept = {"acceptChecksums": ["0004_add_analytics"]}
    shop.apply(run_yaml("accept", action="repair", source=source, repair=accept))
    repaired = shop.wait_phase("accept", "Succeeded")
    (job,) = jobs_of(shop, "accept")
    args = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert args[args.index("--accept-checksum") + 1] == "0004_add_analytics"
    assert [m["name"] for m in repaired["status"]["migrations"]] == ["0004_add_analytics.sql"]
    with psycopg.connect(database_url) as conn:
        accepted = conn.execute(
            "SELECT migration_name FROM __migration_history WHERE action = 'checksum_accepted'"
        ).fetchall()
    assert accepted == [("0004_add_analytics.sql",)]

    shop.apply(run_yaml("recheck", action="verify", source=source))
    assert shop.wait_phase("recheck", "Succeeded")["status"]["applied"] == len(SHOP_FILES)
    assert tracked(database_url) == SHOP_FILES


def test_a_job_the_api_server_refuses_fails_the_run_saying_why(shop: Namespace) -> None:
    """spec.job.resources is copied into the Job: a limit below its request passes the
    CRD but not the API server's Job validation, and the run must not sit in Running."""
    shop.apply(
        run_yaml(
            "tight",
            job={"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "64Mi"}}},
        )
    )
    failed = condition(shop.wait_phase("tight", "Failed", timeout=40), "Failed")
    assert failed["reason"] == "JobRejected"
    assert "must be less than or equal to memory limit" in failed["message"]
    assert "spec.job.resources" in failed["message"]
    assert jobs_of(shop, "tight") == []


def test_a_production_rollback_over_a_baseline_asks_for_a_phrase_that_says_so(
    namespace: Namespace, database_url: str
) -> None:
    """One ordinary-looking phrase dropped a table that predated kubemigrate: the
    phrase now names the baseline, the message says what it means, as a Warning."""
    namespace.secret("db", database_url)
    namespace.kubectl("label", "namespace", namespace.name, "kubemigrate.io/environment=production")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int); INSERT INTO customers VALUES (1)")
    source = inline(
        ("0000_customers", "CREATE TABLE customers (id int);", "DROP TABLE customers;"),
        ("0001_orders", "CREATE TABLE orders (id int);", "DROP TABLE orders;"),
    )
    namespace.apply(run_yaml("adopt", action="baseline", source=source, target="0000_customers"))
    namespace.wait_phase("adopt", "Succeeded")
    namespace.apply(run_yaml("deploy", source=source))
    namespace.wait_phase("deploy", "Succeeded")
    namespace.apply(run_yaml("undo", action="rollback", source=source, steps=2))
    body = namespace.wait_phase("undo", "AwaitingConfirmation")
    assert body["status"]["confirmationPhrase"] == "rollback-batches-1-to-2-with-baselined"
    waiting = condition(body, "AwaitingConfirmation")["message"]
    assert "some recorded by a baseline run" in waiting
    assert "Warning" in {e["type"] for e in namespace.events("undo")}
    namespace.kubectl(
        "patch", "mr", "undo", "--type", "merge",
        "-p", '{"spec":{"confirm":"rollback-batches-1-to-2-with-baselined"}}',
    )  # fmt: skip
    namespace.wait_phase("undo", "Succeeded")
    assert tracked(database_url) == []


def test_drizzle_s_history_in_a_table_of_its_own_is_named_by_spec_drizzle_table(
    namespace: Namespace, database_url: str
) -> None:
    """drizzle's migrator ran 0000 with migrationsSchema app; a copy of its history sits
    in public.migrations: which one is drizzle's is in its config, so the run says to
    name it, and with spec.drizzleTable adoption goes as with drizzle's default table."""
    import hashlib

    namespace.secret("db", database_url)
    up = "CREATE TABLE customers (id int);"
    source = inline(
        ("0000_customers", up, "DROP TABLE customers;"),
        ("0001_orders", "CREATE TABLE orders (id int);", "DROP TABLE orders;"),
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"{up} CREATE SCHEMA app")
        for table in ("app.migrations", "public.migrations"):
            conn.execute(f"CREATE TABLE {table} (id serial, hash text, created_at bigint)")
            conn.execute(
                f"INSERT INTO {table} (hash) VALUES (%s)",
                (hashlib.sha256(up.encode()).hexdigest(),),
            )

    namespace.apply(run_yaml("which", source=source))
    error = namespace.wait_phase("which", "Failed")["status"]["error"]
    assert error["reason"] == "InvalidInput"
    assert "any of app.migrations, public.migrations" in error["message"]
    assert "spec.drizzleTable: SCHEMA.TABLE" in error["hint"]

    named = {"drizzleTable": "app.migrations"}
    namespace.apply(run_yaml("first", source=source, **named))
    error = namespace.wait_phase("first", "Failed")["status"]["error"]
    assert error["reason"] == "NotAdopted"
    assert "(app.migrations records 1 migration(s) as run)" in error["message"]
    assert "spec.drizzleTable: app.migrations" in error["hint"]
    (job,) = jobs_of(namespace, "first")
    args = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert args[args.index("--drizzle-table") + 1] == "app.migrations"

    namespace.apply(run_yaml("adopt", action="baseline", source=source, **named))
    namespace.wait_phase("adopt", "Succeeded")
    namespace.apply(run_yaml("deploy", source=source))
    assert [
        m["name"] for m in namespace.wait_phase("deploy", "Succeeded")["status"]["migrations"]
    ] == ["0001_orders.sql"]
    assert tracked(database_url) == ["0000_customers.sql", "0001_orders.sql"]
