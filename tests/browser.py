"""A headless Chromium for the tests of the pages anyconv writes (the Explorer), driven by
selenium; offline and with a fresh profile, so that the page is all the browser sees.

:func:`missing` says why no browser can be started (the tests skip with it); the message
says how to install one.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

INSTALL = (
    "no headless browser for the page tests: install Chromium and its driver "
    "(Debian/Ubuntu: apt-get install -y chromium chromium-driver) and selenium "
    "(pip install selenium), or point ANYCONV_CHROMIUM and ANYCONV_CHROMEDRIVER at them"
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    "--force-device-scale-factor=1",
)


def _paths() -> tuple[str | None, str | None]:
    browser = os.environ.get("ANYCONV_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )
    driver = os.environ.get("ANYCONV_CHROMEDRIVER") or shutil.which("chromedriver")
    return browser, driver


def missing() -> str | None:
    """Why no browser can be started here (``None`` when one can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return INSTALL + " (selenium is not installed)"
    browser, driver = _paths()
    if not browser or not driver:
        return INSTALL + f" (found browser {browser!r}, driver {driver!r})"
    return None


class Browser:
    """One headless Chromium: open pages, run scripts, read the console, take pictures."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        browser, driver = _paths()
        self.profile = tempfile.mkdtemp(prefix="anyconv-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in (*FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        self.driver.set_script_timeout(60)

    def open(self, path: str | Path) -> list[dict[str, Any]]:
        """Load a page from disk; returns the console entries its loading wrote."""
        self.driver.get(Path(path).resolve().as_uri())
        return self.console()

    def console(self) -> list[dict[str, Any]]:
        return self.driver.get_log("browser")

    def run(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def point(self, element: Any, x: float, y: float) -> None:
        """Move the real pointer to ``(x, y)`` CSS pixels inside ``element`` (scrolled into
        the middle of the window first, without the page's smooth scrolling)."""
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        self.run("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
        left, top = self.run(
            "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top]", element
        )
        actions = ActionBuilder(self.driver)
        actions.pointer_action.move_to_location(int(left + x), int(top + y))
        actions.perform()

    def click(self, element: Any) -> None:
        """A real click, the element first scrolled to the middle of the window (clear of
        the page's sticky header)."""
        self.run("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
        element.click()

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def screenshot(self, path: str | Path | None = None, height: int | None = None) -> Any:
        """The window as a PIL image (the whole page when ``height`` is the page's)."""
        from PIL import Image

        if height is not None:
            self.driver.set_window_size(1400, height)
        png = self.driver.get_screenshot_as_png()
        if height is not None:
            self.driver.set_window_size(1400, 1000)
        if path is not None:
            Path(path).write_bytes(png)
        return Image.open(io.BytesIO(png)).convert("RGB")

    def canvas_pixels(self, element: Any) -> Any:
        """A canvas's pixels as a numpy array ``(H, W, 4)`` (device pixels)."""
        import numpy as np

        url = self.run("return arguments[0].toDataURL('image/png')", element)
        from PIL import Image

        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA")
        return np.asarray(image)

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


def severe(entries: list[dict[str, Any]]) -> list[str]:
    """The console errors among ``entries``."""
    return [e["message"] for e in entries if e.get("level") == "SEVERE"]


def page_data(path: str | Path) -> dict[str, Any]:
    """The data a written page holds, read back from its JSON script element."""
    text = Path(path).read_text(encoding="utf-8")
    found = re.search(
        r'<script type="application/json" id="anyconv-data">(.*?)</script>', text, re.S
    )
    assert found, "the page has no data element"
    return json.loads(found.group(1))
