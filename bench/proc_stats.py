"""Memory and CPU of the processes under load, read from /proc (Linux).

A process is weighed with its children: a server that forks workers must not look lighter
than it is. CPU is counted as seconds used (user + system), so a share of a core over an
interval is the difference of two readings divided by the wall time between them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.gateway_process import resident_mib

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return raw[raw.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue  # ended while we looked
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    # utime and stime: fields 14 and 15 of /proc/<pid>/stat, i.e. 11 and 12 after the name.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _sum_over(pids: list[int], read: Callable[[int], float]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += read(pid)
        except (OSError, LookupError, ValueError):
            continue  # ended while we looked
    return total


def tree_resident_mib(pid: int) -> float:
    return _sum_over(process_tree(pid), resident_mib)


def tree_cpu_seconds(pid: int) -> float:
    return _sum_over(process_tree(pid), cpu_seconds)


def matching_cpu_seconds(name: str, *, holding: str = "") -> dict[int, float]:
    """CPU seconds of each process whose command is `name` and whose command line holds
    `holding` (PostgreSQL names a backend's database there: "postgres: … user db host")."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != name:
                continue
            if holding and holding not in (entry / "cmdline").read_text(errors="replace"):
                continue
            found[int(entry.name)] = cpu_seconds(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # ended while we looked
    return found


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot, every core."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


@dataclass
class ProcessWatch:
    """Memory at start, peak and end, and CPU used, of named process trees (and machine CPU).

    Besides the trees: the load generator itself, the PostgreSQL backends serving databases
    whose name holds `database_tag` (this run's, not other users' on a shared server), and
    every redis-server process (shared: its figure includes other users' work).
    """

    pids: dict[str, int]
    database_tag: str = ""
    start_mib: dict[str, float] = field(default_factory=dict)
    peak_mib: dict[str, float] = field(default_factory=dict)
    end_mib: dict[str, float] = field(default_factory=dict)
    cpu_used: dict[str, float] = field(default_factory=dict)
    machine_busy_share: float = 0.0  # of all cores, over the measured interval
    _cpu_start: dict[str, float] = field(default_factory=dict)
    _backends_start: dict[int, float] = field(default_factory=dict)
    _machine_start: tuple[float, float] = (0.0, 0.0)

    @property
    def others(self) -> tuple[str, ...]:
        """What CPU is counted for besides the named trees (no memory: not ours alone)."""
        return ("load generator", "postgres backends", "redis-server (shared)")

    def _backends(self) -> dict[int, float]:
        if not self.database_tag:
            return {}
        return matching_cpu_seconds("postgres", holding=self.database_tag)

    def _cpu_now(self) -> dict[str, float]:
        now = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        now["load generator"] = sum(os.times()[:2])
        now["redis-server (shared)"] = sum(matching_cpu_seconds("redis-server").values())
        return now

    def started(self) -> None:
        """Memory before any traffic: the processes as they start."""
        self.start_mib = self.sample()

    def begin_cpu(self) -> None:
        """Start counting CPU (the measured period)."""
        self._cpu_start = self._cpu_now()
        self._backends_start = self._backends()
        self._machine_start = machine_cpu()

    def sample(self) -> dict[str, float]:
        """Resident memory of each tree now (and raise the peaks)."""
        now = {name: tree_resident_mib(pid) for name, pid in self.pids.items()}
        for name, value in now.items():
            self.peak_mib[name] = max(self.peak_mib.get(name, 0.0), value)
        return now

    def finish(self) -> None:
        self.end_mib = self.sample()
        cpu = self._cpu_now()
        self.cpu_used = {name: cpu[name] - self._cpu_start.get(name, 0.0) for name in cpu}
        # A backend opened during the run counts from zero; one closed during it is lost.
        self.cpu_used["postgres backends"] = sum(
            used - self._backends_start.get(pid, 0.0) for pid, used in self._backends().items()
        )
        busy, total = machine_cpu()
        elapsed = total - self._machine_start[1]
        self.machine_busy_share = (busy - self._machine_start[0]) / elapsed if elapsed else 0.0
