"""Debian's headless Chromium as the browser tests start it (tests/e2e and test_cli).

The flags are the ones proven on these machines (see TESTING.md): without the
background-networking ones Chromium keeps trying to reach the closed network.
``IM_CHROMIUM`` points the tests at another binary.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("IM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
