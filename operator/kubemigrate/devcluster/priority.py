"""CPU priority for the workload the local cluster runs beside its own parts.

On a real cluster the API server and the operator have their own CPU (control-plane
nodes, requests), the kubelet has kube-reserved CPU and the Pods share what
kubepods.slice gets, and the database is a server of its own; here all of them
share one machine's cores. So the workload (the Jobs' processes, the throwaway
PostgreSQL) runs in the background of the cluster's own processes, which keeps
what the rig measures about the operator from being the machine's contention.

Where cgroups can be written (root, as in CI) the workload goes into cpu cgroups
with ``cpu.idle`` set: it runs only when the cluster's processes have nothing to
run, and they preempt it at once, as kubepods.slice's small weight makes it on a
node. Elsewhere it gets the lowest priority a user may give: its session's
autogroup nice (with the kernel's session autogroups the CPU is shared between
sessions first, so a plain nice value would rank a process inside its own session
only) and ``SCHED_IDLE``. Either way, best effort: a machine that allows neither
runs the workload at the cluster's priority.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

WORKLOAD_NICE = 19
# cgroup v1's cpu hierarchy, then v2's unified one.
CPU_CGROUP_ROOTS = (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup"))


_groups: dict[str, Path | None] = {}


def _idle_cgroup(name: str) -> Path | None:
    """A cpu cgroup whose processes run only when nothing else wants the CPU (made once
    per process: writing a cgroup's settings takes the kernel's cgroup lock)."""
    group = _groups.get(name)
    if name not in _groups or (group is not None and not group.exists()):
        group = _groups[name] = _make_idle_cgroup(name)
    return group


def _make_idle_cgroup(name: str) -> Path | None:
    for root in CPU_CGROUP_ROOTS:
        if not (root / "cgroup.procs").exists():
            continue
        group = root / name
        try:
            group.mkdir(exist_ok=True)
            if (group / "cpu.idle").exists():
                (group / "cpu.idle").write_text("1\n")
            elif (group / "cpu.shares").exists():
                (group / "cpu.shares").write_text("2\n")
            elif (group / "cpu.weight").exists():
                (group / "cpu.weight").write_text("1\n")
            else:
                continue
            return group
        except OSError:
            continue
    return None


def run_in_background(pid: int, group: str, nice: int = WORKLOAD_NICE) -> None:
    """``pid`` (and what it forks from now on) runs in the background of this machine.

    Set from outside just after the spawn (a preexec_fn is unsafe with threads).
    ``group`` names the cgroup: processes of one group share its background time.
    """
    cgroup = _idle_cgroup(group)
    if cgroup is not None:
        with contextlib.suppress(OSError):
            (cgroup / "cgroup.procs").write_text(f"{pid}\n")
            return
    with contextlib.suppress(OSError):  # the whole session, children forked already included
        Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, nice)


def release(group: str) -> None:
    """Remove the cgroup once nothing runs in it (another cluster's may still)."""
    for root in CPU_CGROUP_ROOTS:
        with contextlib.suppress(OSError):
            (root / group).rmdir()
