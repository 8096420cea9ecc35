"""A rich progress bar for people at a terminal; never used in Jobs or CI."""

from __future__ import annotations

from typing import Any

from kubemigrate.domain.errors import KubemigrateError
from kubemigrate.domain.migrations import Action, Plan, Step


class ProgressObserver:
    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            transient=True,
        )
        self.task: Any = None

    def lock_wait(self, holder: str | None) -> None:
        pass

    def plan_ready(self, plan: Plan) -> None:
        if plan.steps:
            self.progress.start()
            doing = (
                "rolling back" if plan.action in (Action.ROLLBACK, Action.RESET) else "migrating"
            )
            self.task = self.progress.add_task(doing, total=len(plan.steps))

    def step_started(self, step: Step, index: int, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=step.name)

    def step_finished(self, step: Step, duration_ms: float) -> None:
        if self.task is not None:
            self.progress.advance(self.task)
            if self.progress.finished:
                self.progress.stop()

    def step_failed(self, step: Step, error: KubemigrateError, duration_ms: float) -> None:
        self.progress.stop()

    def notice(self, severity: str, message: str, migration: str | None = None) -> None:
        pass  # the log line says it
