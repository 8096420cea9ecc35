"""``kubemigrate demo``: the whole product in under a minute on a fresh machine.

Starts the local cluster (PostgreSQL, API server emulator, kubelet stand-in, the
operator), then does what a team would do with kubectl: apply the CRD, a Secret,
a ConfigMap of migrations and a MigrationRun, wait for it, read its status, the
status report and the metrics, and roll back. ``--keep`` leaves it running for
the user's own MigrationRuns; ``--stop`` tears down what ``--keep`` left.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubemigrate.controller.jobs import configmap_from_files
from kubemigrate.devcluster.cluster import ClusterError, LocalCluster, bin_dir, repo_file

WORKDIR = Path(tempfile.gettempdir()) / "kubemigrate-demo"
NAMESPACE = "shop"

MIGRATE_RUN = f"""\
apiVersion: kubemigrate.io/v1alpha1
kind: MigrationRun
metadata:
  name: shop-migrate
  namespace: {NAMESPACE}
spec:
  action: migrate
  database:
    secretRef:
      name: shop-db
  source:
    configMap:
      name: shop-migrations
"""

ROLLBACK_RUN = f"""\
apiVersion: kubemigrate.io/v1alpha1
kind: MigrationRun
metadata:
  name: shop-rollback
  namespace: {NAMESPACE}
spec:
  action: rollback
  database:
    secretRef:
      name: shop-db
  source:
    configMap:
      name: shop-migrations
"""


def _say(title: str) -> None:
    print(f"\n\033[1m▶ {title}\033[0m" if sys.stdout.isatty() else f"\n▶ {title}", flush=True)


def _show(cluster: LocalCluster, *args: str) -> None:
    print(f"$ kubectl {' '.join(args)}")
    result = cluster.kubectl(*args, check=False)
    print((result.stdout + result.stderr).rstrip())


def _client_yaml(cluster: LocalCluster, *args: str) -> str:
    """``kubectl create ... --dry-run=client -o yaml``: kubectl's create sends protobuf."""
    return cluster.kubectl("create", *args, "--dry-run=client", "-o", "yaml").stdout


def _wait_phase(cluster: LocalCluster, name: str) -> None:
    cluster.kubectl(
        "wait",
        f"mr/{name}",
        "-n",
        NAMESPACE,
        "--for=jsonpath={.status.phase}=Succeeded",
        "--timeout=60s",
    )


def run_demo(*, keep: bool = False, stop: bool = False) -> int:
    if stop:
        if not (WORKDIR / "cluster.json").exists():
            print(f"No demo cluster to stop (no {WORKDIR}/cluster.json).")
            return 0
        LocalCluster.load(WORKDIR).stop()
        print("Stopped the demo cluster.")
        return 0
    if (WORKDIR / "cluster.json").exists():
        print(f"A demo cluster is already running ({WORKDIR}); stopping it first.")
        LocalCluster.load(WORKDIR).stop()
    started = time.monotonic()
    cluster = LocalCluster(workdir=WORKDIR)
    try:
        _say("Starting the local cluster: PostgreSQL, API server, kubelet, operator")
        cluster.start()
        print(f"ready in {time.monotonic() - started:.1f} s")
        examples = repo_file("examples", "shop")
        _say("Applying a Secret, a ConfigMap of migrations and a MigrationRun with kubectl")
        cluster.apply(_client_yaml(cluster, "namespace", NAMESPACE))
        cluster.apply(
            _client_yaml(
                cluster,
                "secret",
                "generic",
                "shop-db",
                "-n",
                NAMESPACE,
                f"--from-literal=DATABASE_URL={cluster.database_url}",
            )
        )
        cluster.apply(
            _client_yaml(
                cluster,
                "configmap",
                "shop-migrations",
                "-n",
                NAMESPACE,
                *configmap_from_files(str(examples)),
            )
        )
        print(MIGRATE_RUN)
        print(cluster.apply(MIGRATE_RUN).rstrip())
        _say(
            "Waiting for it: kubectl wait mr/shop-migrate --for=jsonpath={.status.phase}=Succeeded"
        )
        _wait_phase(cluster, "shop-migrate")
        _show(cluster, "get", "mr", "-n", NAMESPACE)
        _show(
            cluster,
            "get",
            "mr",
            "shop-migrate",
            "-n",
            NAMESPACE,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Complete")].message}',
        )
        _say("The status report (kubemigrate status against the demo database)")
        subprocess.run(
            [str(bin_dir() / "kubemigrate"), "status", "--dir", str(examples)],
            env=cluster.env(DATABASE_URL=cluster.database_url),
            check=False,
        )
        _say("Rolling back the last batch with a second MigrationRun")
        print(cluster.apply(ROLLBACK_RUN).rstrip())
        _wait_phase(cluster, "shop-rollback")
        _show(cluster, "get", "mr", "-n", NAMESPACE)
        _say(f"Metrics from the operator (http://127.0.0.1:{cluster.metrics_port}/metrics)")
        lines = [
            ln
            for ln in cluster.metrics().splitlines()
            if ln.startswith("kubemigrate_")
            and " 0.0" not in ln
            and "_created" not in ln
            and "_bucket" not in ln
        ]
        print("\n".join(lines[:40]))
        print(f"\nDone in {time.monotonic() - started:.1f} s.")
        if keep:
            print(
                "\nThe cluster keeps running:\n"
                f"  export KUBECONFIG={cluster.kubeconfig}\n"
                f"  export DATABASE_URL='{cluster.database_url}'\n"
                f"  kubectl get mr -A\n"
                f"Stop it with: kubemigrate demo --stop"
            )
        return 0
    except (ClusterError, subprocess.SubprocessError) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        for part in cluster.parts.values():
            print(f"--- {part.name} log (last lines) ---", file=sys.stderr)
            print(
                Path(part.log).read_text(errors="replace")[-2000:]
                if Path(part.log).exists()
                else "",
                file=sys.stderr,
            )
        keep = False
        return 1
    finally:
        if not keep:
            cluster.stop()
