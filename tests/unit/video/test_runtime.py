"""CPU budget detection for the thread policy."""

from __future__ import annotations

import os
from pathlib import Path

from shared.video.runtime import usable_cpus


def test_cgroup_quota_caps_the_cpu_count(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")  # 1.5 CPUs -> 2
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(cpu_max) == min(affinity, 2)


def test_no_quota_means_the_affinity_set(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("max 100000\n")
    assert usable_cpus(cpu_max) == len(os.sched_getaffinity(0))
    assert usable_cpus(tmp_path / "missing") == len(os.sched_getaffinity(0))
