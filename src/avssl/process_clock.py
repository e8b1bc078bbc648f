"""When this process was created (Linux /proc): jobs count their start-up from here (stdlib only, import-light)."""

from __future__ import annotations

import os
import time


def process_created() -> float | None:
    """This process's creation time in epoch seconds, None where /proc is unavailable."""
    try:
        with open("/proc/self/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
