"""`avssl --help` wall time (target < 1 s): the CLI must not import torch or mlflow to print help."""

import statistics
import subprocess
import sys
import time


def main(repeats: int = 7) -> None:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "avssl", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    print(f"avssl --help: median {statistics.median(times) * 1000:.0f} ms over {repeats} runs (target < 1000 ms)")


if __name__ == "__main__":
    main()
