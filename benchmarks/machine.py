"""What the benchmarks record of the machine they ran on, beside their numbers."""

from __future__ import annotations

import os
import platform
from typing import Optional

import torch


def machine_record(load_start: Optional[tuple] = None) -> dict:
    """CPUs, platform, torch; with `load_start` (os.getloadavg() when the benchmark began), the
    load average then and now, since a busy machine moves every timing."""
    record = {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__}
    if load_start is not None:
        record.update(loadavg_start=load_start, loadavg_end=os.getloadavg())
    return record
