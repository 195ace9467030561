"""The resources of ``runbroker``'s processes: itself and the children it supervises.

Each scrape of a ``runbroker`` reports the server process (role ``server``) and its bridge
and workers (roles ``bridge`` and ``worker``, a worker's ``queue`` beside it): resident
memory, CPU seconds and open file descriptors, read by psutil at scrape time. Another
``runbroker`` reports its own when it is scraped; Prometheus tells them apart by instance.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


@dataclass(frozen=True, slots=True)
class Role:
    role: str  # server, bridge, worker
    queue: str  # a worker's queue; "" for the others
    pid: int


_sources: list[Callable[[], list[Role]]] = []


def process_source_register(source: Callable[[], list[Role]]) -> None:
    """Report the processes ``source()`` names (runbroker's supervisor) on every scrape."""
    _sources[:] = [source]


def processes_of_this_runbroker() -> list[Role]:
    return [Role("server", "", os.getpid()), *(role for source in _sources for role in source())]


def process_families() -> Iterator[Metric]:
    labels = ["role", "queue"]
    memory = GaugeMetricFamily("sessionbot_process_resident_memory_bytes", "Resident memory.", labels=labels)
    cpu = CounterMetricFamily("sessionbot_process_cpu_seconds", "CPU time, user and system.", labels=labels)
    fds = GaugeMetricFamily("sessionbot_process_open_fds", "Open file descriptors.", labels=labels)
    for role in processes_of_this_runbroker():
        try:
            proc = psutil.Process(role.pid)
            with proc.oneshot():
                rss, times, files = proc.memory_info().rss, proc.cpu_times(), proc.num_fds()
        except psutil.Error:  # it exited between the supervisor's answer and now
            continue
        key = [role.role, role.queue]
        memory.add_metric(key, rss)
        cpu.add_metric(key, times.user + times.system)
        fds.add_metric(key, files)
    yield from (memory, cpu, fds)
