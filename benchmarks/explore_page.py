"""The Explorer page's targets: how long ``anyconv explore RUN_DIR`` takes to write the page
(the whole command, Python start and data loading included), how large the page is, and
how soon it is interactive in a browser (headless Chromium: from navigation start to the
end of the page's own set-up, when ``window.anyconv`` exists and every view is drawn).

    python -m benchmarks.explore_page RUN_DIR [--samples 16] [--rounds 3]

Targets (issue 22): LeNet-5 on MNIST with 16 samples written in <= 10 s on the 2-core CPU,
<= 5 MB, interactive within 2 s. Rounds run one after the other; the table gives every
round and the median, so that a busy machine shows as spread.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_times(run_dir: str, samples: int, rounds: int, out: Path) -> list[float]:
    """Wall seconds of ``anyconv explore RUN_DIR --samples N --out OUT``, one per round."""
    times = []
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "anyconv",
                "explore",
                run_dir,
                "--samples",
                str(samples),
                "--out",
                str(out),
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
    return times


def ready_times(page: Path, rounds: int) -> list[float]:
    """Milliseconds from navigation start to the page's ``data-ready`` mark, one per fresh
    load in headless Chromium (none where no browser is installed)."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        print("no chromium/chromedriver: the browser timing is skipped")
        return []
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    times = []
    try:
        for _ in range(rounds):
            chrome.get("about:blank")
            chrome.get(page.resolve().as_uri())
            for _ in range(200):
                ready = chrome.execute_script("return document.body.dataset.ready")
                if ready is not None:
                    break
                time.sleep(0.05)
            times.append(float(ready))
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "explore.html"
        writes = write_times(args.run_dir, args.samples, args.rounds, page)
        size = page.stat().st_size
        ready = ready_times(page, args.rounds)
    print(
        f"write (s):  {', '.join(f'{t:.2f}' for t in writes)}; median "
        f"{statistics.median(writes):.2f}"
    )
    print(f"size (MB):  {size / 1e6:.3f}")
    if ready:
        print(
            f"ready (ms): {', '.join(f'{t:.0f}' for t in ready)}; median "
            f"{statistics.median(ready):.0f}"
        )
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
