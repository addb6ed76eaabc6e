"""Time loading MNIST (or Fashion-MNIST): decoding the IDX files against the decoded cache.

Three cases, each timed in ``--repeats`` fresh Python processes (the figure is the time of
the loader call alone, after ``import jaxdl``; median, min and max over the processes):

- ``decode (cache=False)``: what every load cost before the cache — verify the four
  gzipped IDX files' md5s, decompress, parse, scale to float32;
- ``first use (decode + save)``: the first load with an empty cache folder, which also
  saves the decoded arrays;
- ``cached``: every later load — verify the IDX files' md5s, read the decoded arrays
  from the cache and check their SHA-256, scale to float32;

and, for scale, ``float32 scaling alone``: dividing uint8 images of the dataset's shapes
by 255 into new float32 arrays, the step every load ends with (a floor for ``cached``).

Each process gets its own cache folder (``XDG_CACHE_HOME``) in a temporary directory, so
the user's cache is left alone; the IDX files come from ``--data-dir`` (default
``$JAXDL_DATA_DIR``) and are never downloaded. The files are read once before timing, so
every case reads them from the operating system's page cache.

Usage::

    python bench/bench_data.py                      # MNIST from $JAXDL_DATA_DIR, 5 processes
    python bench/bench_data.py --dataset fashion-mnist --data-dir ~/datasets --repeats 9
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# The child process: one timed load, its seconds printed as the last line.
_CHILD = """
import sys, time
from jaxdl import data
name, folder, cache = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
start = time.perf_counter()
data.load(name, data_dir=folder, download=False, cache=cache)
print(time.perf_counter() - start)
"""

# The floor: only the final scaling of 70,000 28×28 uint8 images to float32.
_SCALING = """
import time
import numpy as np
images = [np.full((60000, 28, 28), 7, np.uint8), np.full((10000, 28, 28), 7, np.uint8)]
start = time.perf_counter()
scaled = [np.divide(part, 255, dtype=np.float32) for part in images]
print(time.perf_counter() - start)
"""


def time_load(name: str, folder: Path, xdg_cache: Path, *, cache: bool) -> float:
    """Seconds of one ``data.load(name, ...)`` call in a fresh process."""
    return run_child(_CHILD, name, str(folder), "1" if cache else "0", xdg_cache=xdg_cache)


def run_child(code: str, *args: str, xdg_cache: Path) -> float:
    """The seconds ``code`` prints last, run in a fresh process with its own cache folder."""
    environment = {**os.environ, "XDG_CACHE_HOME": str(xdg_cache)}
    environment.pop("JAXDL_DATA_DIR", None)  # only data_dir= is looked at
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.split()[-1])


def measure(name: str, folder: Path, repeats: int, scratch: Path) -> dict[str, list[float]]:
    """Per case, the seconds of ``repeats`` loads, each in a fresh process."""
    filled = scratch / "filled"
    # Reads the IDX files into the page cache, and fills the cache the `cached` case reads.
    time_load(name, folder, filled, cache=True)
    times: dict[str, list[float]] = {
        "decode (cache=False)": [],
        "first use (decode + save)": [],
        "cached": [],
        "float32 scaling alone": [],
    }
    for repeat in range(repeats):  # the cases interleaved, so load on the machine hits all
        empty = scratch / f"empty{repeat}"
        times["decode (cache=False)"].append(time_load(name, folder, empty, cache=False))
        times["first use (decode + save)"].append(time_load(name, folder, empty, cache=True))
        times["cached"].append(time_load(name, folder, filled, cache=True))
        times["float32 scaling alone"].append(run_child(_SCALING, xdg_cache=empty))
        shutil.rmtree(empty)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("JAXDL_DATA_DIR"),
        help="folder holding the IDX files, directly or in a subfolder named after the "
        "dataset (default: $JAXDL_DATA_DIR)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per case")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("give --data-dir or set JAXDL_DATA_DIR to the folder of the IDX files")
    folder = Path(args.data_dir).expanduser()

    print(
        f"{args.dataset}, {args.repeats} fresh processes per case; python "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, load "
        f"average {os.getloadavg()[0]:.1f} at the start"
    )
    with tempfile.TemporaryDirectory(prefix="jaxdl-bench-data-") as scratch:
        times = measure(args.dataset, folder, args.repeats, Path(scratch))
    baseline = statistics.median(times["decode (cache=False)"])
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| case | median (ms) | min (ms) | max (ms) | ÷ decode |")
    print("|---|---:|---:|---:|---:|")
    for case, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"| {case} | {median * 1e3:.0f} | {min(seconds) * 1e3:.0f} | "
            f"{max(seconds) * 1e3:.0f} | {median / baseline:.2f} |"
        )


if __name__ == "__main__":
    main()
