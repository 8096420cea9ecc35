"""The safety net: every Running run's Job looked at again, on an interval.

kopf does not retry event handlers, so a status patch that failed on a Job's last
event would leave a run Running for ever; and a pod that cannot start changes
nothing a Job event would report. One list of the runs per interval does what a
kopf timer on every run did, without the finalizer kopf puts on each object it
times: two more writes per run, and runs that cannot be deleted while the
operator is down. Rechecks are idempotent (status writes carry the
resourceVersion), so a standby replica that rechecks too does no harm; a run
whose Job is gone fails only once it has been Running a while without one, so a
replica does not fail a run whose Job another one is just creating.

The same list corrects the in-flight gauge (a run deleted, or finished, while this
process missed the event leaves it) and the database gauges: set from the runs'
status where that is newer than what this process holds (after a start; on a
standby replica, which sees no run end), dropped for a database no run refers to
any more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from kubemigrate.controller.kube import Kube
from kubemigrate.controller.lifecycle import Lifecycle
from kubemigrate.domain.status import Phase
from kubemigrate.observability.logging import get_logger

INTERVAL_S = 15.0


class Resync:
    def __init__(
        self,
        lifecycle: Lifecycle,
        kube: Kube,
        namespaces: Sequence[str],
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.lifecycle = lifecycle
        self.kube = kube
        self.namespaces: Sequence[str | None] = list(namespaces) or [None]
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="resync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval_s)

    def _loop(self) -> None:
        # at once, then on the interval: a new process has no database gauges until the
        # first listing restores them, and for those seconds every `for:` timer of an
        # alert on them (pending for an hour, drift) started again at each restart
        self.once()
        while not self._stop.wait(self.interval_s):
            self.once()

    def once(self) -> None:
        """Recheck every Running run in scope; a failure is logged and counted, never fatal."""
        log = get_logger()
        listed_at = time.monotonic()
        running: set[str] | None = set()
        listed: list[dict[str, Any]] = []
        for namespace in self.namespaces:
            try:
                runs = self.kube.list_runs(namespace)
            except Exception as exc:
                self.lifecycle.metrics.handler_error("recheck_running")
                log.warning("cannot list MigrationRuns to recheck", error=str(exc))
                running = None  # an incomplete list cannot tell which runs are gone
                continue
            listed += runs
            for run in runs:
                if (run.get("status") or {}).get("phase") != Phase.RUNNING:
                    continue
                if running is not None:
                    running.add(str((run.get("metadata") or {}).get("uid")))
                self._recheck(run)
        if running is not None:
            self.lifecycle.settle_in_flight(running, listed_at)
            self.lifecycle.settle_gauges(listed)

    def _recheck(self, run: dict[str, Any]) -> None:
        try:
            self.lifecycle.recheck(run)
        except Exception as exc:
            meta = run.get("metadata") or {}
            self.lifecycle.metrics.handler_error("recheck_running")
            get_logger(namespace=meta.get("namespace"), run=meta.get("name")).warning(
                "recheck failed; the next one retries", error=str(exc)
            )
