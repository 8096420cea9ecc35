"""What a benchmark ran on, printed next to its figures (shared by every benchmark)."""

from __future__ import annotations

import os
import platform


def machine_info() -> dict[str, str]:
    """CPU model, cores, memory, OS and Python of this machine."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "Memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
