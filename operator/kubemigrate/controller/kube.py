"""A thin Kubernetes API adapter: plain dicts in, plain dicts out.

The handlers speak to the API only through this class, so the lifecycle logic
reads like the API conventions (create, adopt on 409, patch status) and the
client library stays behind one seam. Secrets are only ever asked for as
metadata (PartialObjectMetadata): the operator checks that a Secret exists and
never reads its data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

GROUP = "kubemigrate.io"
VERSION = "v1alpha1"
PLURAL = "migrationruns"
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


class Conflict(Exception):
    """The object changed since it was read (HTTP 409 on a resourceVersion precondition)."""


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_client() -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the KUBECONFIG context."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)
    # Handlers run in up to 32 threads, plus the lookups and Events beside them; with
    # the default pool (5 per core) the rest would open a new connection per request
    # and throw it away.
    configuration.connection_pool_maxsize = 64
    return client.ApiClient(configuration)


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        # Events are best effort, as client-go's recorder makes them: posted off the
        # handler's path, so a slow API server delays no status and no Job.
        self._events = ThreadPoolExecutor(max_workers=2, thread_name_prefix="events")

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        params = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params={"Content-Type": content_type, "Accept": accept},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*params)
        response.read()
        if not 200 <= int(response.status) < 300:
            raise ApiException(http_resp=response)
        data = json.loads(response.data or b"{}")
        return dict(data) if isinstance(data, dict) else {}

    def get(self, path: str, *, accept: str = "application/json") -> dict[str, Any] | None:
        try:
            return self.request("GET", path, accept=accept)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    # -- MigrationRuns ---------------------------------------------------------

    @staticmethod
    def run_path(namespace: str, name: str) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"

    def get_run(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get(self.run_path(namespace, name))

    def list_runs(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every run in ``namespace`` (all namespaces for None)."""
        scope = f"/namespaces/{namespace}" if namespace else ""
        return list(
            self.request("GET", f"/apis/{GROUP}/{VERSION}{scope}/{PLURAL}").get("items") or []
        )

    def patch_run_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """Merge-patch the status; with ``resource_version``, 409 if the run changed since."""
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            return self.request(
                "PATCH",
                self.run_path(namespace, name) + "/status",
                body=body,
                content_type="application/merge-patch+json",
            )
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(str(exc.reason)) from exc
            raise

    # -- Jobs, pods, ConfigMaps ------------------------------------------------

    def create_or_adopt(
        self, collection: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Create, or return the existing object of that name (created=False).

        Deterministic names make a retried handler or a restarted operator find what
        it created before instead of creating a second one. An existing object is only
        a candidate: anyone who may create that kind in the namespace may have made it,
        so the caller checks it is its own (``jobs.adoption_problem``) before using it.
        """
        try:
            return self.request("POST", collection, body=dict(body)), True
        except ApiException as exc:
            if exc.status != 409:
                raise
        existing = self.get(f"{collection}/{body['metadata']['name']}")
        if existing is None:  # deleted between the two calls: let the handler retry
            raise ApiException(status=409, reason="Conflict: object vanished during adoption")
        return existing, False

    def create_job(self, job: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        namespace = job["metadata"]["namespace"]
        return self.create_or_adopt(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")

    def job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        result = self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            query={"labelSelector": f"job-name={job_name}"},
        )
        return list(result.get("items") or [])

    def create_configmap(self, configmap: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        namespace = configmap["metadata"]["namespace"]
        return self.create_or_adopt(f"/api/v1/namespaces/{namespace}/configmaps", configmap)

    def exists(self, kind: str, namespace: str, name: str) -> bool:
        """Whether a Secret or ConfigMap exists; metadata only, never its data.

        True when the operator may not look (the chart's ``rbac.secretsGet: false``): the
        run goes ahead, and a missing one shows as its Job's pod unable to start. The
        answer 403 failed the run's start for good, and the run sat with no status."""
        path = f"/api/v1/namespaces/{namespace}/{kind}/{name}"
        try:
            return self.get(path, accept=METADATA_ONLY) is not None
        except ApiException as exc:
            if exc.status == 403:
                return True
            raise

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        found = self.get(f"/api/v1/namespaces/{namespace}", accept=METADATA_ONLY)
        return dict(((found or {}).get("metadata") or {}).get("labels") or {})

    # -- Events ----------------------------------------------------------------

    def post_event(self, run: Mapping[str, Any], *, type_: str, reason: str, message: str) -> None:
        """A core/v1 Event on the run, as ``kubectl describe mr`` shows them; in the background."""
        self._events.submit(self._post_event, dict(run), type_, reason, message)

    def _post_event(self, run: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        try:
            self._create_event(run, type_=type_, reason=reason, message=message)
        except Exception as exc:  # a lost Event must not fail the run
            logging.getLogger(__name__).warning("could not post an Event: %s", exc)

    def _create_event(
        self, run: Mapping[str, Any], *, type_: str, reason: str, message: str
    ) -> None:
        metadata = run["metadata"]
        stamp = now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{metadata['name']}.",
                "namespace": metadata["namespace"],
            },
            "involvedObject": {
                "apiVersion": run.get("apiVersion", f"{GROUP}/{VERSION}"),
                "kind": run.get("kind", "MigrationRun"),
                "name": metadata["name"],
                "namespace": metadata["namespace"],
                "uid": metadata.get("uid"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": "kubemigrate-operator"},
            "reportingComponent": "kubemigrate.io/operator",
            "reportingInstance": "kubemigrate-operator",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        self.request("POST", f"/api/v1/namespaces/{metadata['namespace']}/events", body=event)
