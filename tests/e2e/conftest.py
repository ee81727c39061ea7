"""A real JupyterLab on 127.0.0.1 and Debian's headless Chromium, once per test session.

The notebooks of ``notebooks/`` are copied to a temporary folder the server serves
(so the browser never edits the repository's files); each test opens one, runs
every cell as a person would (Run All), and looks at what the page shows.
Without Chromium the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared browser settings
from browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPOSITORY / "notebooks"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TOKEN = "interactive-metrics-e2e"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"jupyter server exited ({server.returncode}):\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"jupyter server not up after {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def lab() -> Iterator[tuple[str, Path]]:
    """``(base url, served folder)`` of a JupyterLab with its own config, data and settings."""
    yield from _serve(REPOSITORY / ".jupyter" / "lab" / "settings")


DARK_THEME = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
"""The Lab setting a person switches on for the dark theme (Settings > Theme)."""


@pytest.fixture(scope="session")
def dark_lab() -> Iterator[tuple[str, Path]]:
    """A second JupyterLab like :func:`lab`, whose settings choose the "JupyterLab Dark" theme."""
    import json

    settings = Path(tempfile.mkdtemp(prefix="im-e2e-dark-settings-"))
    project = REPOSITORY / ".jupyter" / "lab" / "settings" / "overrides.json"
    overrides = json.loads(project.read_text()) if project.exists() else {}
    (settings / "overrides.json").write_text(json.dumps({**overrides, **DARK_THEME}, indent=2))
    try:
        yield from _serve(settings)
    finally:
        shutil.rmtree(settings, ignore_errors=True)


NEWS_OFF = {"fetchNews": "false", "checkForUpdates": False}
"""The user setting (``@jupyterlab/apputils-extension:notification``) that keeps the news
pop-up away: Notebook 7 keeps its own app settings, so it gets this one as a user's."""


@pytest.fixture(scope="session")
def notebook7() -> Iterator[tuple[str, Path]]:
    """``(base url, served folder)`` of a Jupyter Notebook 7 (``jupyter notebook``), like :func:`lab`.

    Notebook 7 is built from JupyterLab's packages: the same ``window.jupyterapp``
    (exposed), the same cells and output areas, one notebook per page at
    ``/notebooks/<name>``.
    """
    yield from _serve(None, app="notebook")


WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"
"""The front-end extension that draws ipywidgets in Lab and Notebook 7."""


@pytest.fixture(scope="session")
def notebook7_without_widgets() -> Iterator[tuple[str, Path]]:
    """A Notebook 7 like :func:`notebook7` whose widget manager is switched off.

    What a front end with its own Vega-Lite renderer and no ipywidgets is like: it
    draws the ``application/vnd.vegalite.v5+json`` of a bundle, or its image.
    """
    yield from _serve(None, app="notebook", disabled=(WIDGET_MANAGER,))


def _serve(
    app_settings: Path | None, app: str = "lab", disabled: tuple[str, ...] = ()
) -> Iterator[tuple[str, Path]]:
    """Start a JupyterLab (``app="lab"``) or Notebook 7 (``"notebook"``) on a free port.

    ``app_settings``: the folder of the app settings (``overrides.json``) Lab reads;
    None keeps the app's own (Notebook 7 ships its own overrides). ``disabled``: front-end
    extensions switched off (``labconfig/page_config.json``, as ``jupyter labextension
    disable`` writes it).
    """
    import json

    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found; install it with: apt-get install chromium")
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.exists():
        _unavailable(f"{jupyter} not found; install the dev extras: pip install -e '.[dev]'")
    if app == "notebook":
        import importlib.util

        if importlib.util.find_spec("notebook") is None:
            # a dev dependency: missing means a broken set-up, never a silent skip
            pytest.fail("Notebook 7 is not installed: pip install -e '.[dev]'", pytrace=False)
    home = Path(tempfile.mkdtemp(prefix="im-e2e-"))
    served = home / "notebooks"
    shutil.copytree(NOTEBOOKS, served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port = _free_port()
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        PATH=f"{jupyter.parent}{os.pathsep}{os.environ['PATH']}",
        # the kernels import this checkout's package, wherever the served folder is
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])),
    )
    command = [
        str(jupyter),
        app,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={served}",
    ]
    if app == "lab":
        command += [
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to run commands
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
    else:
        command += ["--JupyterNotebookApp.expose_app_in_browser=True"]
        notification = home / "settings" / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True)
        (notification / "notification.jupyterlab-settings").write_text(json.dumps(NEWS_OFF))
    if disabled:
        labconfig = home / "config" / "labconfig"
        labconfig.mkdir(parents=True)
        page_config = {"disabledExtensions": dict.fromkeys(disabled, True)}
        (labconfig / "page_config.json").write_text(json.dumps(page_config))
    if app_settings is not None:
        # the project's own Lab settings (as ./dev lab): no news pop-up, no update checks
        command.append(f"--LabApp.app_settings_dir={app_settings}")
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            command,
            cwd=served,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{url}/api/status?token={TOKEN}", server, log, timeout=90)
        yield url, served
    finally:
        if server.poll() is None:
            server.terminate()  # jupyter-server shuts its kernels down on SIGTERM
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        try:
            os.killpg(server.pid, signal.SIGKILL)  # any kernel left in the server's group
        except ProcessLookupError:
            pass
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found; install it with: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed; pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
