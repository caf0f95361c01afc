"""Headless Chromium rendering, shared by the report tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render(page: Path, out: Path) -> tuple[np.ndarray, str, str]:
    """Screenshot (RGB array), DOM and log of ``page`` rendered by headless Chromium."""
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "shot.png"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={out / 'profile'}", "--enable-logging=stderr",
         "--v=0", f"--screenshot={shot}", "--dump-dom", "--window-size=1280,4000",
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return np.asarray(Image.open(shot).convert("RGB")), result.stdout, result.stderr


def page_problems(log: str) -> list[str]:
    """Console messages (script errors, blocked loads) that Chromium logged for the page."""
    return [line for line in log.splitlines() if ":CONSOLE" in line]


@pytest.fixture
def chromium() -> SimpleNamespace:
    """``render`` and ``page_problems``; skips without Chromium, except on CI."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required on CI (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); required on CI")
    return SimpleNamespace(render=render, page_problems=page_problems)
