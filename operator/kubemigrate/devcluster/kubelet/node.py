"""The node: watches Jobs and Pods, runs the Job controller and the kubelet side by side.

Two halves share one event loop and two watch caches (informers):

- the **Job controller**: every Job or Pod event queues the Job's key; workers sync
  one key at a time (never the same key twice at once, like client-go's work queue),
  reading the Job and its Pods from the informers' caches, as the real controller
  does, and applying :func:`.controller.reconcile`. Its own writes (a Pod it
  created, a Job status it wrote) go into the caches at once, never over a newer
  version, so the next sync sees them before their watch events arrive (client-go
  keeps "expectations" for the same reason); a write refused with 409 refreshes
  the cached Job from the API;
- the **kubelet**: every Pod bound to this node that is not terminal and not yet
  known gets a :class:`.runtime.PodWorker`. A Pod marked for deletion has its
  processes stopped as the real kubelet stops them (SIGTERM, then SIGKILL once the
  API's ``deletionGracePeriodSeconds`` has passed, a shorter one given meanwhile
  cutting the wait), its final status written, and only then is it deleted, with a
  grace period of 0 and its uid as precondition: the API keeps a running Pod until
  its kubelet says it has stopped (see ``apiserver/graceful.py``).

Unbound Pods get the default scheduler's one decision that matters on one node: a
Pod this node fits is bound to it through ``pods/<name>/binding`` (so it has a
``spec.nodeName``, which is what makes its deletion graceful), then run.

A Pod the API refuses to create (403 for a missing ServiceAccount...) is what the
real pod control reports: a ``FailedCreate`` Warning on the Job, no Pod, the Job's
``active`` not counting it, and the sync retried with exponential back-off (1 s
doubling to 60 s, the controller's rate limit). A Pod whose node selector or node
affinity this node does not match is never started: it is left Pending with
``PodScheduled=False``/``Unschedulable`` and a ``FailedScheduling`` event, as the
default scheduler leaves it when no node fits (:mod:`.scheduling`).

Watches resume from the last resourceVersion and relist on 410 Gone or any error.

Restarts: a Pod found running (a container ``running`` or ``terminated``) that no
worker of this process runs was started by a previous kubelet: its processes are
killed (:func:`.runtime.kill_leftovers`) and it is marked Failed the way pod GC marks
the Pods of a lost node (``DisruptionTarget``/``DeletionByPodGC``); the Job
controller then retries it per ``backoffLimit`` (or ignores it, with a
``podFailurePolicy`` Ignore rule on DisruptionTarget, as on a real cluster). On
SIGTERM the node shuts down gracefully: running Pods are stopped and marked Failed
with the real graceful-node-shutdown status.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ..priority import release
from . import controller, podstatus, scheduling
from .client import ApiError, Client, resource_path
from .events import EventRecorder
from .runtime import PODS_CGROUP, PodWorker, RuntimeSettings, kill_leftovers, now

JsonDict = dict[str, Any]
Key = tuple[str, str]
Handler = Callable[[str, JsonDict], None]
log = logging.getLogger(__name__)

WATCH_TIMEOUT = 290.0
ERROR_DELAY = 1.0
# The Job controller's rate limit on a failing sync (DefaultJobApiBackOff, MaxJobApiBackOff).
API_BACKOFF = 1.0
API_BACKOFF_MAX = 60.0
GONE_KEPT = 4096  # deleted uids an informer remembers (see Informer.gone)


@dataclass(frozen=True)
class NodeSettings:
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    workers: int = 16
    controller: controller.ControllerSettings = field(default_factory=controller.ControllerSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)


class _Expired(Exception):
    """The watch's resourceVersion is too old (410): relist."""


class Informer:
    """List, then watch from the list's resourceVersion; a cache of the objects seen."""

    def __init__(
        self, client: Client, api_version: str, plural: str, namespace: str | None, handler: Handler
    ) -> None:
        self.client = client
        self.path = resource_path(api_version, plural, namespace)
        self.handler = handler
        self.namespace = namespace
        self.cache: dict[Key, JsonDict] = {}
        # uids seen deleted, oldest first, so remember() never puts one back; a write's
        # reply races its object's deletion by moments, so the last few thousand suffice
        self.gone: dict[str, None] = {}
        self.synced = asyncio.Event()

    @staticmethod
    def key(obj: JsonDict) -> Key:
        return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def serves(self, namespace: str) -> bool:
        return self.namespace is None or self.namespace == namespace

    def remember(self, obj: JsonDict) -> None:
        """A version this process just wrote, unless the cache already holds a newer one."""
        meta = obj["metadata"]
        if meta.get("uid") in self.gone:
            return
        key = self.key(obj)
        old = self.cache.get(key)
        if old is None or _version(obj) > _version(old):
            self.cache[key] = obj

    def _forget(self, uid: str) -> None:
        self.gone[uid] = None
        if len(self.gone) > GONE_KEPT:
            del self.gone[next(iter(self.gone))]

    async def run(self) -> None:
        while True:
            try:
                version = await self._relist()
                self.synced.set()
                while True:
                    version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except _Expired:
                log.info("watch of %s expired: relisting", self.path)
            except Exception as exc:
                log.warning("watch of %s failed (%s): relisting", self.path, exc)
                await asyncio.sleep(ERROR_DELAY)

    async def _relist(self) -> str:
        listing = await self.client.get(self.path)
        seen: set[Key] = set()
        for obj in listing.get("items") or []:
            key = self.key(obj)
            seen.add(key)
            old = self.cache.get(key)
            self.cache[key] = obj
            if old is None:
                self.handler("ADDED", obj)
            elif old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self.handler("MODIFIED", obj)
        for key in [k for k in self.cache if k not in seen]:
            self.handler("DELETED", self.cache.pop(key))
        return str(listing.get("metadata", {}).get("resourceVersion", ""))

    async def _watch(self, version: str) -> str:
        params = {"resourceVersion": version, "allowWatchBookmarks": "true"}
        async for event in self.client.watch(self.path, params, WATCH_TIMEOUT):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Expired()
                raise ApiError(int(obj.get("code") or 500), obj)
            version = str(obj.get("metadata", {}).get("resourceVersion", version))
            if kind == "BOOKMARK":
                continue
            key = self.key(obj)
            old = self.cache.get(key)
            if kind == "DELETED":
                self.cache.pop(key, None)
                self._forget(str(obj["metadata"].get("uid")))
            elif old is None or _uid(old) != _uid(obj) or _version(obj) >= _version(old):
                # not over a version this process wrote since (remember): an event for a
                # status write made before the Job controller released the Pod put its
                # finalizer back, and the next sync counted the Pod again
                self.cache[key] = obj
            self.handler(str(kind), obj)
        return version


class WorkQueue:
    """Keys to sync: deduplicated, and never handed to two workers at once."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._dirty: set[Key] = set()
        self._processing: set[Key] = set()

    def add(self, key: Key) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.put_nowait(key)

    def add_after(self, key: Key, delay: float) -> None:
        asyncio.get_running_loop().call_later(max(delay, 0.0), self.add, key)

    async def get(self) -> Key:
        key = await self._queue.get()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: Key) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.put_nowait(key)


def _ignore(kind: str, obj: JsonDict) -> None:
    """Secrets and ConfigMaps are only looked up, never acted on."""


def _uid(obj: JsonDict) -> str | None:
    uid = obj["metadata"].get("uid")
    return None if uid is None else str(uid)


def _version(obj: JsonDict) -> int:
    """The resourceVersion as a number (the emulator's, like etcd's, only grow); -1 if not."""
    try:
        return int(obj["metadata"].get("resourceVersion") or -1)
    except ValueError:
        return -1


def _job_of(pod: JsonDict) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if (
            ref.get("controller")
            and ref.get("kind") == "Job"
            and ref.get("apiVersion", "").startswith("batch/")
        ):
            return str(ref.get("name"))
    return None


def _has_cause(status: Any, kind: str) -> bool:
    """Whether an API error's Status lists a cause of this type."""
    if not isinstance(status, dict):
        return False
    causes = (status.get("details") or {}).get("causes") or []
    return any(isinstance(c, dict) and c.get("type") == kind for c in causes)


def _was_started(pod: JsonDict) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") == "Running":
        return True
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        if "running" in state or "terminated" in state:
            return True
    return False


class Node:
    def __init__(self, client: Client, workdir: Path, settings: NodeSettings) -> None:
        self.client = client
        self.workdir = workdir
        self.settings = settings
        self.queue = WorkQueue()
        self.pods: dict[str, PodWorker] = {}  # uid -> worker, while it runs
        self.finished: set[str] = set()  # uids this process ran to the end
        self.unschedulable: set[str] = set()  # uids left Pending by the "scheduler"
        self.binding: set[str] = set()  # uids the "scheduler" is binding to this node
        self.removed: set[str] = set()  # uids this node deleted with a grace period of 0
        self.node_labels = scheduling.node_labels(settings.runtime.node_name)
        self.job_events = EventRecorder(client, "job-controller")
        self.scheduler_events = EventRecorder(client, scheduling.SCHEDULER_NAME)
        self._create_failures: dict[Key, int] = {}  # Job key -> failed syncs in a row
        self._tasks: set[asyncio.Task[Any]] = set()
        scopes: list[str | None] = list(settings.namespaces) or [None]
        self.job_informers = [
            Informer(client, "batch/v1", "jobs", ns, self._on_job) for ns in scopes
        ]
        self.pod_informers = [Informer(client, "v1", "pods", ns, self._on_pod) for ns in scopes]
        # Secrets and ConfigMaps for Pods' env and volumes, from watches as the kubelet's
        # default (Watch) change detection gets them: a Pod starts without a GET for
        # each, and one created just before its Pod (not in the cache yet) is read
        # from the API. (No node authorizer here: the stand-in sees them all.)
        self.config_informers = {
            plural: [Informer(client, "v1", plural, ns, _ignore) for ns in scopes]
            for plural in ("secrets", "configmaps")
        }
        self.informers = (
            self.job_informers
            + self.pod_informers
            + [i for group in self.config_informers.values() for i in group]
        )

    # --- running -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, on_ready: Callable[[], None] | None = None) -> None:
        leftovers = kill_leftovers(self.workdir)
        if leftovers:
            log.warning("killed %d process group(s) left by a previous kubelet", leftovers)
        informer_tasks = [asyncio.create_task(i.run()) for i in self.informers]
        workers = [asyncio.create_task(self._worker()) for _ in range(self.settings.workers)]
        try:
            synced: asyncio.Task[Any] = asyncio.create_task(self._synced())
            stopped: asyncio.Task[Any] = asyncio.create_task(stop.wait())
            await asyncio.wait({synced, stopped}, return_when=asyncio.FIRST_COMPLETED)
            synced.cancel()
            stopped.cancel()
            if not stop.is_set() and on_ready is not None:
                on_ready()
            await stop.wait()
        finally:
            for task in informer_tasks + workers:
                task.cancel()
            await asyncio.gather(*informer_tasks, *workers, return_exceptions=True)
            await self.shutdown()

    async def _synced(self) -> None:
        for informer in self.informers:
            await informer.synced.wait()

    async def shutdown(self) -> None:
        running = list(self.pods.values())
        for worker in running:
            worker.shutdown()
        tasks = [w.task for w in running if w.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self.settings.runtime.max_grace + 5)
        for recorder in (self.job_events, self.scheduler_events):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(recorder.flush(), timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        release(PODS_CGROUP)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- events ------------------------------------------------------------------------

    def _on_job(self, kind: str, job: JsonDict) -> None:
        self.queue.add(Informer.key(job))

    def _on_pod(self, kind: str, pod: JsonDict) -> None:
        meta = pod["metadata"]
        job = _job_of(pod)
        if job is not None:
            self.queue.add((meta["namespace"], job))
        uid = meta["uid"]
        worker = self.pods.get(uid)
        grace = meta.get("deletionGracePeriodSeconds")
        if kind == "DELETED":
            if worker is not None:  # removed with no grace left: stop within the floor
                worker.stop(gone=True, grace=grace)
            return
        deleting = bool(meta.get("deletionTimestamp"))
        if worker is not None:
            if deleting:
                worker.stop(deleting=True, grace=grace)
            return
        if uid in self.binding:
            return  # the binding's own event, or one from before it: _bind goes on
        node = (pod.get("spec") or {}).get("nodeName")
        ours = self.settings.runtime.node_name
        if node and node != ours:
            return  # another node's Pod
        if deleting:
            self._deleted_unrun(pod, bound=bool(node))
        elif uid in self.finished or controller.is_terminal(pod):
            return
        elif not node:
            self._schedule(pod)
        elif _was_started(pod):
            self._spawn(self._mark(pod, podstatus.lost(pod, now())))
        else:
            self._run(pod)

    def _run(self, pod: JsonDict) -> None:
        worker = PodWorker(
            self.client,
            pod,
            self.workdir,
            self.settings.runtime,
            on_done=self._pod_done,
            cached=self._cached_config,
        )
        self.pods[worker.uid] = worker
        worker.start()

    def _schedule(self, pod: JsonDict) -> None:
        """The default scheduler's part: bind a Pod this node fits, or say why not.

        A Pod with scheduling gates waits for them to be removed: the API would refuse
        its binding (409), and the real scheduler does not try.
        """
        uid = pod["metadata"]["uid"]
        if (pod.get("spec") or {}).get("schedulingGates"):
            return
        if scheduling.fits(pod, self.settings.runtime.node_name, self.node_labels):
            self.binding.add(uid)
            self._spawn(self._bind(pod))
        elif uid not in self.unschedulable:
            self.unschedulable.add(uid)
            self._spawn(self._unschedulable(pod))

    async def _bind(self, pod: JsonDict) -> None:
        """POST the Pod's Binding to this node, then run it as bound.

        Events for the Pod are ignored meanwhile; then the latest one seen (from the
        informer's cache, which may predate the binding) is handled again: with the
        node name the binding gave it, or, if the binding was refused, when it says
        why (the Pod is being deleted, or was bound elsewhere).
        """
        meta = pod["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        node = self.settings.runtime.node_name
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        bound = retry = False
        try:
            try:
                await self.client.request(
                    "POST", resource_path("v1", "pods", namespace, name) + "/binding", body=body
                )
                bound = True
            except ApiError as exc:
                retry = exc.code not in (404, 409)  # else gone, being deleted or bound
                if retry:
                    log.warning("cannot bind pod %s/%s: %s", namespace, name, exc)
            except (OSError, TimeoutError, aiohttp.ClientError) as exc:
                retry = True
                log.warning("cannot bind pod %s/%s: %s", namespace, name, exc)
            if retry:
                await asyncio.sleep(ERROR_DELAY)
        finally:
            self.binding.discard(uid)
        latest = self._informer(self.pod_informers, namespace).cache.get((namespace, name))
        if latest is None or latest["metadata"]["uid"] != uid:
            return  # deleted meanwhile
        spec = latest.get("spec") or {}
        if bound and not spec.get("nodeName"):
            latest = {**latest, "spec": {**spec, "nodeName": node}}
        elif not (
            bound or retry or latest["metadata"].get("deletionTimestamp") or spec.get("nodeName")
        ):
            return  # refused, and nothing has changed that another attempt would not meet
        self._on_pod("MODIFIED", latest)

    def _deleted_unrun(self, pod: JsonDict, *, bound: bool) -> None:
        """A Pod marked for deletion that no worker of this process runs.

        Bound here, it is this node's to finish: the real kubelet writes its final
        status (Failed; a Pod a killed kubelet left running is lost) and then deletes it
        with a grace period of 0, as its status manager does once a terminating Pod is
        terminal. Unbound, only its finalizers hold it (the API gave it no grace), and
        it is marked Failed as pod GC marks an unscheduled terminating Pod.
        """
        meta = pod["metadata"]
        uid = meta["uid"]
        done = uid in self.finished or controller.is_terminal(pod)
        if not bound:
            if not done:
                self._spawn(self._mark(pod, self._never_started(pod)))
            return
        if done:
            if meta.get("deletionGracePeriodSeconds") != 0:
                self._spawn(self._remove(meta))
            return
        status = podstatus.lost(pod, now()) if _was_started(pod) else self._never_started(pod)
        self._spawn(self._mark_and_remove(pod, status))

    async def _mark_and_remove(self, pod: JsonDict, status: JsonDict) -> None:
        await self._mark(pod, status)
        await self._remove(pod["metadata"])

    async def _remove(self, meta: JsonDict) -> None:
        """Delete a terminated Pod for good: grace period 0, on its uid (the kubelet
        status manager's final DELETE, so a new Pod of the same name is never hit)."""
        uid = meta["uid"]
        if uid in self.removed:
            return
        self.removed.add(uid)
        with contextlib.suppress(ApiError):
            await self.client.request(
                "DELETE",
                resource_path("v1", "pods", meta["namespace"], meta["name"]),
                body={"gracePeriodSeconds": 0, "preconditions": {"uid": uid}},
            )

    async def _unschedulable(self, pod: JsonDict) -> None:
        """What the default scheduler does with a Pod no node fits: Pending, and says why."""
        meta = pod["metadata"]
        message = scheduling.NODE_AFFINITY_MESSAGE
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "status": scheduling.unschedulable_status(pod, now(), message),
        }
        with contextlib.suppress(ApiError):
            await self.client.request(
                "PUT",
                resource_path("v1", "pods", meta["namespace"], meta["name"]) + "/status",
                body=body,
            )
            self.scheduler_events.record(
                {"apiVersion": "v1", "kind": "Pod", **pod}, "Warning", "FailedScheduling", message
            )

    def _pod_done(self, worker: PodWorker) -> None:
        """A worker ended, its last status written: a Pod being deleted goes now."""
        self.pods.pop(worker.uid, None)
        self.finished.add(worker.uid)
        if worker.deleting and not worker.gone:
            self._spawn(self._remove(worker.pod["metadata"]))

    @staticmethod
    def _never_started(pod: JsonDict) -> JsonDict:
        """A Pod deleted before it ran: Failed, its containers still waiting."""
        record = podstatus.new_record(pod)
        record.phase = "Failed"
        return podstatus.render(record, now())

    async def _mark(self, pod: JsonDict, status: JsonDict) -> None:
        meta = pod["metadata"]
        self.finished.add(meta["uid"])
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "status": status,
        }
        with contextlib.suppress(ApiError):
            await self.client.request(
                "PUT",
                resource_path("v1", "pods", meta["namespace"], meta["name"]) + "/status",
                body=body,
            )

    # --- the Job controller ----------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                requeue = await self.sync_job(*key)
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                level = logging.DEBUG if exc.code == 409 else logging.WARNING
                log.log(level, "sync of job %s/%s: %s", *key, exc)
                requeue = 0.2
            except Exception:
                log.exception("sync of job %s/%s failed", *key)
                requeue = ERROR_DELAY
            finally:
                self.queue.done(key)
            if requeue is not None:
                self.queue.add_after(key, requeue)

    @staticmethod
    def _informer(informers: list[Informer], namespace: str) -> Informer:
        return next(i for i in informers if i.serves(namespace))

    def _cached_config(self, plural: str, namespace: str, name: str) -> JsonDict | None:
        """A Secret or ConfigMap as last watched; None if not seen (it may be new)."""
        informer = self._informer(self.config_informers[plural], namespace)
        return informer.cache.get((namespace, name))

    def _cached_job(self, namespace: str, name: str) -> JsonDict | None:
        return self._informer(self.job_informers, namespace).cache.get((namespace, name))

    def _cached_pods(self, namespace: str, job: str) -> list[JsonDict]:
        """The Job's Pods by the label the Job controller selects them with."""
        cache = self._informer(self.pod_informers, namespace).cache
        return [
            pod
            for (ns, _), pod in cache.items()
            if ns == namespace
            and (pod["metadata"].get("labels") or {}).get("batch.kubernetes.io/job-name") == job
        ]

    async def sync_job(self, namespace: str, name: str) -> float | None:
        """One sync; returns when to sync again (None: on the next event)."""
        job = self._cached_job(namespace, name)
        pods = self._cached_pods(namespace, name)
        uid = job["metadata"]["uid"] if job is not None else None
        for pod in pods:  # Pods of a Job that is gone (or was replaced): release them
            if (
                controller.controller_uid(pod) != uid
                and controller.has_finalizer(pod)
                and _job_of(pod) == name
            ):
                await self._remove_finalizer(pod)
        if job is None:
            return None
        plan = controller.reconcile(
            job, pods, datetime.datetime.now(datetime.UTC), self.settings.controller
        )
        job = {"apiVersion": "batch/v1", "kind": "Job", **job}
        for pod_name in plan.delete:
            with contextlib.suppress(ApiError):
                await self.client.request(
                    "DELETE",
                    resource_path("v1", "pods", namespace, pod_name),
                    body={"propagationPolicy": "Background"},
                )
                self.job_events.record(
                    job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}"
                )
        failed_creates = await self._create_pods(job, plan.create)
        status = plan.status
        if failed_creates:
            # The Pods that could not be created are not active (manageJob's active--).
            status = dict(status)
            status["active"] = int(status.get("active") or 0) - failed_creates
            if not status["active"]:
                del status["active"]
        current = job.get("status") or {}
        if plan.record is not None:
            job = await self._write_status(job, plan.record)
            current = plan.record
        by_name = {p["metadata"]["name"]: p for p in pods}
        for pod_name in plan.remove_finalizers:
            await self._remove_finalizer(by_name[pod_name])
        if status != current:
            job = await self._write_status(job, status)
            self._finished_event(job, current, status)
        if plan.delete_job:
            with contextlib.suppress(ApiError):
                await self.client.request(
                    "DELETE",
                    resource_path("batch/v1", "jobs", namespace, name),
                    body={
                        "propagationPolicy": "Foreground",
                        "preconditions": {"uid": job["metadata"]["uid"]},
                    },
                )
        key = (namespace, name)
        if failed_creates:
            # The sync failed: the controller's queue retries it with exponential back-off.
            failures = self._create_failures.get(key, 0) + 1
            self._create_failures[key] = failures
            delay = float(min(API_BACKOFF * 2.0 ** (failures - 1), API_BACKOFF_MAX))
            return delay if plan.requeue_after is None else min(delay, plan.requeue_after)
        self._create_failures.pop(key, None)
        return plan.requeue_after

    async def _create_pods(self, job: JsonDict, count: int) -> int:
        """Create ``count`` Pods for the Job; returns how many the API refused.

        A refusal is what the real pod control reports: a ``FailedCreate`` Warning on
        the Job with the API's message (a missing ServiceAccount, a terminating
        namespace, a quota...), no Pod, and a sync that is retried later.
        """
        namespace = job["metadata"]["namespace"]
        failed = 0
        for _ in range(count):
            try:
                created = await self.client.request(
                    "POST", resource_path("v1", "pods", namespace), body=controller.new_pod(job)
                )
            except ApiError as exc:
                if exc.code >= 500:
                    raise
                message = exc.body.get("message", "") if isinstance(exc.body, dict) else ""
                terminating = _has_cause(exc.body, "NamespaceTerminating")
                if not terminating:
                    self.job_events.record(
                        job, "Warning", "FailedCreate", f"Error creating: {message or exc}"
                    )
                failed += 1
                continue
            self._informer(self.pod_informers, namespace).remember(created)
            self.job_events.record(
                job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}"
            )
        return failed

    def _finished_event(self, job: JsonDict, before: JsonDict, after: JsonDict) -> None:
        """The event the Job controller records when a Job finishes."""
        job = {"apiVersion": "batch/v1", "kind": "Job", **job}
        if controller.condition_true(after, "Complete") and not controller.condition_true(
            before, "Complete"
        ):
            self.job_events.record(job, "Normal", "Completed", "Job completed")
        failed = controller.find_condition(after, "Failed")
        if (
            failed is not None
            and failed.get("status") == "True"
            and not controller.condition_true(before, "Failed")
        ):
            self.job_events.record(
                job, "Warning", str(failed.get("reason", "")), str(failed.get("message", ""))
            )

    async def _write_status(self, job: JsonDict, status: JsonDict) -> JsonDict:
        meta = job["metadata"]
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "resourceVersion": meta["resourceVersion"],
            },
            "status": status,
        }
        path = resource_path("batch/v1", "jobs", meta["namespace"], meta["name"]) + "/status"
        jobs = self._informer(self.job_informers, meta["namespace"])
        try:
            written = await self.client.request("PUT", path, body=body)
        except ApiError as exc:
            if exc.code == 409:  # the cached Job is stale: read it again for the retry
                fresh = await self.client.find(
                    resource_path("batch/v1", "jobs", meta["namespace"], meta["name"])
                )
                if fresh is not None:
                    jobs.remember(fresh)
            raise
        jobs.remember(written)
        return written

    async def _remove_finalizer(self, pod: JsonDict) -> None:
        meta = pod["metadata"]
        path = resource_path("v1", "pods", meta["namespace"], meta["name"])
        # the next sync must see the Pod released before the watch says so, or it counts
        # the Pod again (what client-go's finalizer expectations are for)
        pods = self._informer(self.pod_informers, meta["namespace"])
        for _ in range(5):
            finalizers = [
                f for f in meta.get("finalizers") or [] if f != controller.TRACKING_FINALIZER
            ]
            patch = {
                "metadata": {
                    "finalizers": finalizers or None,
                    "resourceVersion": meta["resourceVersion"],
                }
            }
            try:
                released = await self.client.request(
                    "PATCH", path, body=patch, content_type="application/merge-patch+json"
                )
            except ApiError as exc:
                if exc.code == 404:
                    return
                if exc.code != 409:
                    raise
            else:
                pods.remember(released)
                return
            fresh = await self.client.find(path)
            if fresh is None or fresh["metadata"]["uid"] != meta["uid"]:
                return
            if not controller.has_finalizer(fresh):
                pods.remember(fresh)
                return
            meta = fresh["metadata"]
        raise ApiError(409, {"message": f"could not remove the finalizer of pod {meta['name']}"})
