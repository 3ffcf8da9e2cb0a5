"""Size and opening time of the run explorer (``lusifer report RUN_DIR --html``) in headless Chromium.

Give it an evaluated run, e.g. the paper protocol's 459 users::

    lusifer run --protocol paper --data-dir ml-100k --enrich-file ml-100k-tmdb.csv --out /tmp/paper
    lusifer evaluate /tmp/paper
    python benchmarks/bench_explorer.py /tmp/paper [--repeats 5]

Reports the page's size, the time to write it, and per browser start: the page's own count from navigation
start to the first user drawn (``data-load-ms``: parsing the embedded data included) and the whole browser
process (start, load, DOM dump, exit).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from lusifer.evaluation.explorer import write_explorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no Chromium on PATH")
    started = time.perf_counter()
    page = write_explorer(arguments.run_dir, arguments.run_dir / "explorer.html")
    written = time.perf_counter() - started
    print(f"page {page}: {page.stat().st_size / 1e6:.2f} MB, written in {written:.2f} s")
    loads, walls = [], []
    for _ in range(arguments.repeats):
        started = time.perf_counter()
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.resolve().as_uri()]
        dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
        walls.append(time.perf_counter() - started)
        found = re.search(r'data-load-ms="(\d+)"', dom)
        if found is None or 'data-ready="1"' not in dom:
            raise SystemExit("the page did not finish drawing")
        loads.append(int(found.group(1)) / 1000)
    print(f"navigation start -> first user drawn: median {statistics.median(loads):.3f} s (max {max(loads):.3f} s)")
    print(f"whole headless browser process: median {statistics.median(walls):.2f} s (max {max(walls):.2f} s)")


if __name__ == "__main__":
    main()
