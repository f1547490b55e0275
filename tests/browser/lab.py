"""JupyterLab from a given environment, driven by headless Chromium through Playwright, as a student sees it.

`JupyterLab` starts the server on a free 127.0.0.1 port (root folder = the repository, also its HOME as on
Binder) and always stops it and every process it started. `chromium()` launches the system Chromium
(/usr/bin/chromium; never `playwright install`). `Student` is one JupyterLab tab in which notebooks are opened
one after the other and stay open; `Notebook` runs, saves and inspects one of them through JupyterLab's own
commands (`--LabApp.expose_app_in_browser` gives `window.jupyterapp`). `MemorySampler` sums the resident memory
of the server's process tree (server + kernels). Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}


def chromium_path() -> str | None:
    """The system Chromium Playwright drives, or None."""
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the server --------------------------------------------------------------------------------------------------

class JupyterLab:
    """`jupyter lab` of `venv`, serving `root` on 127.0.0.1; a context manager that always cleans up."""

    def __init__(self, venv: Path, root: Path, log_path: Path, env: dict[str, str], start_timeout: float = 90,
                 launch: list[str] | None = None):
        """`launch`: the arguments that say what to serve, run from `root` (default: root as the root folder)."""
        self.venv, self.root, self.log_path, self.env = venv, root, log_path, env
        self.start_timeout = start_timeout
        self.launch = [f"--ServerApp.root_dir={root}"] if launch is None else launch
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> JupyterLab:
        cmd = [str(self.venv / "bin" / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", "--LabApp.expose_app_in_browser=True", *self.launch]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.get("/api/status")
                return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"jupyter lab did not answer within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    def get(self, path: str, timeout: float = 5):
        """GET path (with the token); returns (status, parsed JSON or text)."""
        sep = "&" if "?" in path else "?"
        with urllib.request.urlopen(f"{self.url}{path}{sep}token={self.token}", timeout=timeout) as response:
            body = response.read().decode()
            try:
                return response.status, json.loads(body)
            except ValueError:
                return response.status, body

    def status(self, path: str) -> int:
        try:
            return self.get(path)[0]
        except urllib.error.HTTPError as error:
            return error.code

    def browser_url(self, timeout: float = 10) -> str:
        """The URL `jupyter lab` opens in the student's web browser: the page it writes for that, even with
        --no-browser, in the runtime folder of the server's HOME (jpserver-file-to-run-PID-open.html when it was
        given a file to open, else jpserver-PID-open.html)."""
        runtime = Path(self.env["HOME"], ".local", "share", "jupyter", "runtime")
        pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while not (runtime / f"jpserver-{pid}-open.html").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        page = runtime / f"jpserver-file-to-run-{pid}-open.html"
        page = page if page.exists() else runtime / f"jpserver-{pid}-open.html"
        found = re.search(r'<a href="([^"]+)"', page.read_text())
        assert found, page.read_text()
        return found.group(1)

    def log_tail(self, chars: int = 4000) -> str:
        if self._log:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the server (it shuts its kernels down), then kill whatever of its process tree is left."""
        if self.proc is None:
            return
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        _, alive = psutil.wait_procs(tree, timeout=5)
        for process in alive:                      # only processes this server started
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(alive, timeout=5)
        if self._log:
            self._log.close()
        self.proc = None


# ---- memory ------------------------------------------------------------------------------------------------------

def tree_memory(pid: int) -> tuple[int, int, int]:
    """(sum of RSS in bytes, number of processes, number of ipykernel processes) of pid and its descendants."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0
    rss = kernels = count = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            rss += process.memory_info().rss
            count += 1
            kernels += any("ipykernel" in part for part in process.cmdline())
    return rss, count, kernels


def tree_pss(pid: int) -> int:
    """Sum of PSS (shared pages split among the processes sharing them) of pid and its descendants, in bytes:
    closer to what the container is charged than the RSS sum, which counts shared libraries once per process."""
    total = 0
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
                total += process.memory_full_info().pss
    return total


class MemorySampler(threading.Thread):
    """Samples tree_memory(pid) every `interval` s; keeps the peak per phase (set with .phase = "name")."""

    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.phase = "start"
        self.peaks: dict[str, dict] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def sample(self) -> tuple[int, int, int]:
        rss, count, kernels = tree_memory(self.pid)
        peak = self.peaks.get(self.phase)
        if peak is None or rss > peak["rss"]:
            self.peaks[self.phase] = {"rss": rss, "processes": count, "kernels": kernels}
        return rss, count, kernels

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)

    def peak(self, phase: str | None = None) -> dict:
        chosen = [self.peaks[phase]] if phase else list(self.peaks.values())
        return max(chosen, key=lambda p: p["rss"])


# ---- the browser -------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def chromium():
    """A headless system Chromium through Playwright; closed (and Playwright's driver stopped) on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS,
                                             timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


# JavaScript run in the page: finds the open notebook panel of `path`.
_PANEL = ("const panel = window.jupyterapp && window.jupyterapp.shell && "
          "[...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path);")


class Student:
    """One browser tab with JupyterLab, in which a student opens notebook after notebook (all stay open)."""

    def __init__(self, browser, lab: JupyterLab, shots: Path, workspace: str = "course"):
        self.lab, self.shots, self.workspace = lab, shots, workspace
        self.page = browser.new_page(viewport=VIEWPORT)
        self.errors: list[str] = []                    # uncaught JavaScript errors of the page
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.started = False

    def close(self) -> None:
        self.page.close()

    def open(self, path: str, timeout: float = 90, url: str | None = None) -> Notebook:
        """The first notebook through its URL (as the Binder badge's urlpath=lab/tree/PATH does, in a fresh
        workspace; or `url`, e.g. the one `jupyter lab PATH` opens), the others with File > Open
        (docmanager:open); wait until its kernel is idle."""
        if not self.started:
            url = url or f"{self.lab.url}/lab/workspaces/{self.workspace}/tree/{path}?reset&token={self.lab.token}"
            self.page.goto(url, timeout=timeout * 1000)
            self.started = True
        else:
            self.page.evaluate("path => { window.jupyterapp.commands.execute('docmanager:open', {path}); }", path)
        self.page.wait_for_function(f"path => {{ {_PANEL} return panel && panel.content.widgets.length > 0; }}",
                                    arg=path, timeout=timeout * 1000)
        notebook = Notebook(self, path)
        notebook.focus()
        notebook.wait_kernel_idle(timeout)
        return notebook

    def dismiss_news(self) -> None:
        """JupyterLab asks once (a toast, a few seconds after start) whether to fetch Jupyter news; a student
        answers No, and so does the test before each screenshot, so that the toast covers nothing."""
        toast = self.page.locator(".Toastify__toast", has_text="Jupyter news")
        if toast.count():
            with contextlib.suppress(Exception):
                toast.get_by_role("button", name="No", exact=True).click(timeout=5000)
                toast.wait_for(state="detached", timeout=5000)

    def news_toasts(self) -> int:
        """How many toasts about Jupyter news the page shows (JupyterLab asks a few seconds after start unless its
        setting fetchNews says yes or no)."""
        return self.page.locator(".Toastify__toast", has_text=re.compile("Jupyter news", re.I)).count()

    def menu_bar(self) -> list[str]:
        """The labels of the top menu bar (File, Edit, ...)."""
        self.page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").first.wait_for(timeout=30_000)
        return [t.strip() for t in self.page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").all_text_contents()]

    def browse(self, folder: str, timeout: float = 30) -> list[str]:
        """Go to `folder` in the file browser as a student does (the breadcrumbs' home icon, then a double click
        on each folder of the path) and return the names it lists there."""
        self.page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
        browser = self.page.locator("#filebrowser")
        browser.locator(".jp-BreadCrumbs-home").click(timeout=timeout * 1000)
        for part in [p for p in folder.split("/") if p]:
            name = browser.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(part)}$"))
            name.first.dblclick(timeout=timeout * 1000)
            browser.locator(".jp-BreadCrumbs-item", has_text=re.compile(f"^{re.escape(part)}$")).first.wait_for(
                timeout=timeout * 1000)
        self.page.wait_for_timeout(500)            # the listing follows the breadcrumbs in the same update
        return [t.strip() for t in browser.locator(".jp-DirListing-itemText").all_text_contents()]

    def plugins(self, ids) -> dict[str, dict[str, bool]]:
        """For each JupyterLab plugin id: is it registered (disabled plugins are not) and activated."""
        return self.page.evaluate("""ids => Object.fromEntries(ids.map(id => [id, {
            registered: window.jupyterapp.hasPlugin(id), activated: window.jupyterapp.isPluginActivated(id)}]))""",
                                  list(ids))

    def show_running_sessions(self) -> None:
        """Open the left sidebar's Running Terminals and Kernels panel (every open notebook's kernel)."""
        self.page.evaluate("() => window.jupyterapp.shell.activateById('jp-running-sessions')")
        self.page.wait_for_timeout(500)

    def shot(self, name: str) -> Path:
        """Screenshot of the page as shots/name.png."""
        self.dismiss_news()
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


class Notebook:
    """An open notebook of the student's tab; run, save and inspect it through JupyterLab's own commands.
    `locator` finds elements inside this notebook only (the other open notebooks are in hidden tabs)."""

    def __init__(self, student: Student, path: str):
        self.student, self.path, self.page = student, path, student.page
        panel_id = self.page.evaluate(f"path => {{ {_PANEL} return panel.id; }}", path)
        self.node = self.page.locator(f"[id='{panel_id}']")

    def locator(self, selector: str, **kwargs):
        return self.node.locator(selector, **kwargs)

    def focus(self) -> None:
        """Bring its tab to the front."""
        self.page.evaluate(f"path => {{ {_PANEL} window.jupyterapp.shell.activateById(panel.id); }}", self.path)

    def wait_kernel_idle(self, timeout: float = 90) -> None:
        """The kernel is connected and idle, and the status bar says so ('Python 3 (ipykernel) | Idle')."""
        self.page.wait_for_function(
            f"""path => {{ {_PANEL}
                const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
                const bar = [...document.querySelectorAll('.jp-StatusBar-TextItem')].map(e => e.textContent);
                return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle'
                    && bar.some(t => t.includes('(ipykernel) | Idle'));
            }}""", arg=self.path, timeout=timeout * 1000)

    def _start(self, js_call: str) -> None:
        """Start a promise in the page (js_call may use `panel`); `_settled` waits for it."""
        self.page.evaluate(f"""path => {{ {_PANEL}
            window.__course_result = undefined;
            Promise.resolve().then(() => {js_call}).then(
                value => {{ window.__course_result = {{ok: true, value: value === undefined ? null : value}}; }},
                error => {{ window.__course_result = {{ok: false, error: String(error)}}; }});
        }}""", self.path)

    def _settled(self, timeout: float) -> dict:
        """Wait (bounded) until the promise of `_start` settles; returns {ok, value} or {ok: false, error}."""
        self.page.wait_for_function("window.__course_result !== undefined", timeout=timeout * 1000)
        return self.page.evaluate("window.__course_result")

    def _command(self, js_call: str, timeout: float) -> dict:
        self._start(js_call)
        return self._settled(timeout)

    # running
    def run_all(self, timeout: float = 240) -> bool:
        """Run > Run All Cells; True if every cell ran without an error (JupyterLab stops at the first one)."""
        self.start_run_all()
        return self.wait_run_all(timeout)

    def start_run_all(self) -> None:
        self.focus()
        self._start("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    def wait_run_all(self, timeout: float = 240) -> bool:
        try:
            result = self._settled(timeout)
        except Exception as error:                   # say where it stopped, not just "timeout"
            raise AssertionError(f"Run All did not finish within {timeout:.0f} s: {self.state()}") from error
        self.wait_kernel_idle(timeout)
        return bool(result.get("ok") and result.get("value"))

    def state(self) -> dict:
        """The kernel's status and the cells waiting to run ([*]), for error messages."""
        return self.page.evaluate(f"""path => {{ {_PANEL}
            const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
            const waiting = panel.content.widgets.map((cell, i) => [i, cell]).filter(([i, cell]) =>
                cell.model.type === 'code' && cell.promptNode && cell.promptNode.textContent.includes('*'));
            return {{kernel: kernel ? kernel.status + '/' + kernel.connectionStatus : 'none',
                     waiting: waiting.map(([i, cell]) => i + ': ' + cell.model.sharedModel.getSource().slice(0, 60))}};
        }}""", self.path)

    def run_each_cell(self, timeout: float = 240) -> None:
        """Run every cell on its own, top to bottom (as Shift+Enter does), going on after a failing cell."""
        self.focus()
        self._command("""(async () => {
            const notebook = panel.content;
            for (let i = 0; i < notebook.widgets.length; i++) {
                notebook.deselectAll();
                notebook.activeCellIndex = i;
                await window.jupyterapp.commands.execute('notebook:run-cell');
            }
        })()""", timeout)
        self.wait_kernel_idle(timeout)

    def save(self, timeout: float = 60) -> None:
        self.focus()
        result = self._command("window.jupyterapp.commands.execute('docmanager:save')", timeout)
        assert result["ok"], f"saving {self.path} failed: {result}"
        self.page.wait_for_function(f"path => {{ {_PANEL} return !panel.context.model.dirty; }}", arg=self.path,
                                    timeout=timeout * 1000)

    def watch_progress(self, total: int) -> None:
        """From now on, record every value n (0 < n < total) that a progress bar of this notebook's kernel
        reports as "n/total" (tqdm's widget text, in the kernel's IOPub comm messages). Listening to the
        messages sees every update however short the run, and wherever the cell is scrolled to; the bars'
        rendering is checked on the page itself."""
        self.page.evaluate(r"""([path, total]) => { """ + _PANEL + r"""
            if (window.__course_progress_unhook) window.__course_progress_unhook();
            const kernel = panel.sessionContext.session.kernel;
            const seen = window.__course_progress = [];
            const listen = (_, message) => {
                const data = message.header.msg_type === 'comm_msg' && message.content.data;
                const text = data && data.state && data.state.value;
                const match = typeof text === 'string' && text.match(/\b(\d+)\/(\d+)\b/);
                const n = match && Number(match[2]) === total ? Number(match[1]) : 0;
                if (n > 0 && n < total && !seen.includes(n)) seen.push(n);
            };
            kernel.iopubMessage.connect(listen);
            window.__course_progress_unhook = () => kernel.iopubMessage.disconnect(listen);
        }""", [self.path, total])

    def progress_seen(self) -> list[int]:
        """The values recorded since `watch_progress`, in the order they appeared."""
        return self.page.evaluate("window.__course_progress || []")

    # looking
    def images(self) -> dict[str, int]:
        """Image outputs in the notebook: how many, how many the browser decoded (naturalWidth > 0), and how many of
        those are drawn by widgets (an ipywidgets Image, a picture in an interact's output), which the saved
        notebook does not hold as image outputs."""
        return self.page.evaluate(f"""path => {{ {_PANEL}
            const imgs = [...panel.node.querySelectorAll('.jp-OutputArea-output img')];
            const decoded = imgs.filter(i => i.complete && i.naturalWidth > 0);
            return {{total: imgs.length, decoded: decoded.length,
                     in_widgets: decoded.filter(i => i.closest('.jupyter-widgets')).length}};
        }}""", self.path)

    def scroll_to(self, target, tries: int = 8) -> None:
        """Scroll the locator `target` to the middle of the page. The notebook draws cells lazily: with
        windowingMode "full" (JupyterLab 4.4) cells off screen are not in the page, so scroll the notebook to the
        target's cell first; with "contentVisibility" (4.6) one jump can land short: repeat until it is in view."""
        target.evaluate(f"""async (element, path) => {{ {_PANEL}
            const cell = element.closest('.jp-Cell');
            const index = panel && cell ? panel.content.widgets.findIndex(w => w.node === cell) : -1;
            if (index >= 0) await panel.content.scrollToItem(index, 'center');
        }}""", self.path)
        for _ in range(tries):
            self.page.wait_for_timeout(250)
            box = target.bounding_box()
            if box and box["y"] >= 0 and box["y"] + min(box["height"], 200) <= VIEWPORT["height"]:
                return
            target.evaluate("element => element.scrollIntoView({block: 'center'})")

    def shot(self, name: str, target=None) -> Path:
        """Screenshot of the page with this notebook in front (and the locator `target` scrolled into view)."""
        self.focus()
        if target is not None:
            self.scroll_to(target)
        return self.student.shot(name)
