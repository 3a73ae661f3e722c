"""`pynn serve`: its safety checks (loopback only unless --public, a busy port, the app's options handed on), and
the app served to a real browser — Debian's headless Chromium, driven by selenium — on a free loopback port:
the page loads, the Model screen's shapes show, keys reach the app and a run trains to a test accuracy.

The browser's terminal (xterm.js) paints on a canvas, so the test reads the text from xterm.js's own buffer:
textual-serve keeps its Terminal object to itself, so a script run before the page's own catches it as it is
stored (a setter for `terminal` on Object.prototype, restored to a plain property on first use)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pynn_tui.cli import build_parser, main

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver"
                                                if os.path.exists("/usr/bin/chromedriver") else None)
PAGE_SECONDS = 60      # guards only: every wait ends as soon as the text is there
TRAINING_SECONDS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the command's checks, without a server ---------------------------------------------------------------

def test_a_non_loopback_host_is_refused_without_public(capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "--public" in err and err.count("\n") == 1


def test_a_port_in_use_is_one_sentence(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"Port {port}" in err and "in use" in err and err.count("\n") == 1


def test_a_bad_app_option_is_refused_before_serving(capsys, tmp_path):
    assert main(["serve", "--port", str(free_port()), "--load", str(tmp_path / "missing.npz")]) == 2
    assert "missing.npz" in capsys.readouterr().err


def test_each_tab_runs_pynn_tui_with_the_options_given_on_this_python():
    from pynn_tui.commands.serve import app_command

    args = build_parser().parse_args(["serve", "--port", "9000", "--data", "digits", "--limit", "300",
                                      "--standardize", "--model", "784-20-10", "--screen", "weights"])
    argv = shlex.split(app_command(args))
    assert argv[:4] == [sys.executable, "-m", "pynn_tui.cli", "tui"]
    # the browser's terminal draws no images, so the app keeps characters whatever the environment says
    assert argv[-2:] == ["--pixels", "off"]
    tui_args = build_parser().parse_args(argv[3:])
    for name in ("data", "limit", "standardize", "model", "screen"):
        assert getattr(tui_args, name) == getattr(args, name), name
    assert not hasattr(tui_args, "port")


def test_the_url_and_the_tunnel_are_printed():
    from pynn_tui.commands.serve import serving_lines

    lines = serving_lines("127.0.0.1", 8123)
    assert "http://127.0.0.1:8123" in lines and "ssh -L 8123:localhost:8123 HOST" in lines
    assert "ssh -L" not in serving_lines("0.0.0.0", 8123)  # a public server needs no tunnel


# -- a real browser ---------------------------------------------------------------------------------------

# Runs before the page's scripts: keeps textual-serve's xterm.js Terminal where the test can read it.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {configurable: true,
  set(value) {
    if (value && typeof value.loadAddon === "function") window.__pynnTerminal = value;
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
  },
  get() { return undefined; }});
"""

# The screen's rows as text, from the terminal's buffer (null until the terminal exists).
SCREEN_TEXT = """
const term = window.__pynnTerminal;
if (!term) return null;
const buffer = term.buffer.active, rows = [];
for (let y = 0; y < term.rows; y++) {
  const line = buffer.getLine(buffer.viewportY + y);
  rows.push(line ? line.translateToString(true) : "");
}
return rows.join("\\n");
"""


def kill_tree(process: subprocess.Popen) -> None:
    """Ends the server and every app it started (they share its process group), then reaps it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    # the apps of the group may outlive the server by a moment; nothing of the group stays
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def served(tmp_path):
    """A `pynn serve` on a free loopback port (small data, so a run is quick), stopped with its apps after."""
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "pynn_tui.cli", "serve", "--port", str(port),
                                "--limit", "600"],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + PAGE_SECONDS
        while b"ssh -L" not in (tmp_path / "serve.log").read_bytes():
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "pynn serve did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/", tmp_path / "serve.log"
    finally:
        kill_tree(process)
        log.close()


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium and chromedriver are not installed (Debian: apt install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="pynn-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL})
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            service.stop()
            shutil.rmtree(profile, ignore_errors=True)


def screen_text(driver) -> str:
    return driver.execute_script(SCREEN_TEXT) or ""


def wait_for(driver, pattern: str, seconds: float, log: Path) -> re.Match:
    """The first match of pattern on the page's screen, waiting for it at most `seconds` (a guard only)."""
    deadline = time.monotonic() + seconds
    while True:
        text = screen_text(driver)
        found = re.search(pattern, text)
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{pattern!r} never showed; the screen:\n{text}\nthe server:\n{log.read_text()}")
        time.sleep(0.2)


def send_key(driver, key: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(key)


def test_the_app_in_a_browser_shows_the_model_takes_keys_and_trains(browser, served):
    url, log = served
    browser.get(url)
    # the Model screen of 784-30-10: its spec and its weight shapes
    wait_for(browser, r"784-30-10", PAGE_SECONDS, log)
    shapes = wait_for(browser, r"\(30, 784\)", PAGE_SECONDS, log)
    assert shapes and "(10, 30)" in screen_text(browser)
    assert "accuracy" not in screen_text(browser).lower()  # the Model screen says nothing of accuracy

    send_key(browser, "2")  # the Train screen, with its (empty) accuracy chart
    wait_for(browser, r"(?i)accuracy", PAGE_SECONDS, log)
    send_key(browser, "t")  # train
    found = wait_for(browser, r"test accuracy\D{0,3}(\d+(?:\.\d+)?) ?%", TRAINING_SECONDS, log)
    accuracy = float(found.group(1))
    assert 10.0 < accuracy <= 100.0  # better than guessing among ten digits


def test_the_page_connects_back_through_the_address_the_browser_used(served):
    # through `ssh -L 9999:localhost:PORT HOST` the browser asks for localhost:9999; the page's websocket must
    # go there too, not to the port the server listens on (which the laptop does not have)
    import urllib.request

    url, _ = served
    request = urllib.request.Request(url, headers={"Host": "localhost:9999"})
    with urllib.request.urlopen(request, timeout=PAGE_SECONDS) as page:
        html = page.read().decode()
    assert 'data-session-websocket-url="ws://localhost:9999/ws"' in html
