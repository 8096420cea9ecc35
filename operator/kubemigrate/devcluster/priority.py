"""CPU priority for the workload the local cluster runs beside its own parts.

On a real cluster the API server and the operator have their own CPU (control-plane
nodes, requests), the kubelet has kube-reserved CPU, and the database is a server of
its own; here all of them share one machine's cores. So the workload (the Jobs'
processes, the throwaway PostgreSQL) runs at a lower priority than the cluster's
own processes, which keeps what the rig measures about the operator from being
the machine's contention.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

WORKLOAD_NICE = 19


def lower_priority(pid: int, nice: int = WORKLOAD_NICE) -> None:
    """Run ``pid``'s session (and the process itself) at CPU priority ``nice``.

    With the kernel's session autogroups (on by default) a process's nice only
    ranks it inside its session's group while groups share the CPU equally: the
    group's own nice (``/proc/PID/autogroup``) is what counts, and it covers every
    process of the session, children forked already included. Best effort: without
    permission or autogroups the priority stays as it was.
    """
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, nice)
