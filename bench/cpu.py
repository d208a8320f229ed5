"""Where the CPU goes (Linux /proc): the benchmark shares the machine with what it measures."""

from __future__ import annotations

import os
from pathlib import Path

from bench.stack import ServiceGroup


def _user_system(stat: Path) -> tuple[float, float]:
    """utime and stime of a /proc stat file, in seconds (0 if it cannot be read)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def user_system_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process so far: system time is its system calls (loopback
    sends to RabbitMQ, PostgreSQL and HTTP clients run the receiving side's TCP work too)."""
    return _user_system(Path(f"/proc/{pid}/stat"))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it cannot be read)."""
    return sum(user_system_seconds(pid))


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the process's main thread (the event loop) and of all its other threads."""
    split = {"loop": 0.0, "threads": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        split["loop" if int(task.name) == pid else "threads"] += sum(_user_system(task / "stat"))
    return split


def machine_busy_seconds() -> float:
    """CPU time all cores spent not idle, so far (0 if /proc/stat cannot be read)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def pids_of(command: str) -> list[int]:
    """The pids of processes whose command name is `command` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command[:15]:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds used by the benchmark, each service and everything else between two points."""

    def __init__(self, services: ServiceGroup) -> None:
        self._pids = {"benchmark": os.getpid(), **{p.name: p.pid for p in services.processes}}

    def snapshot(self) -> dict[str, float]:
        taken = {name: process_cpu_seconds(pid) for name, pid in self._pids.items()}
        # The servers, where they run on this machine (0 where they don't): every process of theirs
        # alive at the snapshot (a PostgreSQL backend that ended in between is left in "other").
        taken["postgres"] = sum(map(process_cpu_seconds, pids_of("postgres")))
        taken["rabbitmq"] = sum(map(process_cpu_seconds, pids_of("beam.smp")))
        taken["machine"] = machine_busy_seconds()
        return taken

    @staticmethod
    def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """Per process and server, plus "other" (anything else: the kernel, the hypervisor's steal) and "machine" (all)."""
        used = {name: after[name] - before[name] for name in before}
        used["other"] = used["machine"] - sum(v for k, v in used.items() if k != "machine")
        return used
