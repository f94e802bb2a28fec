"""Memory figures of the running process on Linux (/proc/self), shared by the benchmarks."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path


def status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MB, from /proc/self/status; NaN elsewhere."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Start the peak (VmHWM) again from the current size (Linux: /proc/self/clear_refs); no-op elsewhere."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def wait_with_peak_kb(proc: subprocess.Popen, every: float = 0.2) -> int:
    """Wait for a child process, polling its peak RSS (VmHWM, kB) from /proc/<pid>/status until it ends; the
    last figure read before it exits (0 where /proc is not there)."""
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        time.sleep(every)
    return peak
