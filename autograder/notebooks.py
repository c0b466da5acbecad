"""Reading, executing and tidying notebooks (shared by `course run`, `refresh` and grading)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets.config import Config

from course_lib.runtime import METRIC_MIME, QUIET_ENV

CHECK_MARK = "NBVAL_CHECK_OUTPUT"


class NotebookError(RuntimeError):
    """A notebook that cannot be read, or whose execution failed; the message says which cell."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM arrived while a notebook ran: stop the whole command, not just this notebook."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _SignalWatch:
    """nbclient answers SIGINT and SIGTERM by shutting the kernel down, then reports the
    notebook as failed and returns, so a run of several lessons would record a failure
    and go on with the next one. Once the kernel is up (nbclient's own handlers are in
    place by then), ours replace them: they note the signal and shut the kernel down, and
    `execute` raises `Interrupted`."""

    def __init__(self, client: NotebookClient):
        self.client = client
        self.signum: int | None = None
        self._shutdown: asyncio.Future | None = None  # held, so the task is not collected before it runs

    def take_over(self, **_hook_args) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self._stop, signum)
            except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
                return

    def _stop(self, signum: int) -> None:
        self.signum = signum
        if self._shutdown is None:  # a second Ctrl-C changes nothing
            self._shutdown = asyncio.ensure_future(self.client.km.shutdown_kernel(now=True))

    def raise_if_stopped(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


def read(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, upgrading old formats; raise NotebookError in plain words."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NotebookError(f"{path.name} could not be opened ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise NotebookError(f"{path.name} is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path.name} is not UTF-8 text (byte {exc.start}); save it again from Jupyter") from exc
    try:
        nb = nbformat.reads(text, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise NotebookError(f"{path.name} is not a notebook: it is not valid JSON ({exc})") from exc
    except Exception as exc:  # nbformat raises a variety of errors for odd structures
        raise NotebookError(f"{path.name} is not a readable notebook ({exc.__class__.__name__}: {exc})") from exc
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise NotebookError(f"{path.name} does not follow the notebook format: {exc.message}") from exc
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write atomically, so an interrupted write never leaves half a notebook."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)


def execute(
    nb: nbformat.NotebookNode,
    cwd: Path,
    *,
    mode: str,
    backend: str | None = None,
    timeout: int = 900,
    allow_errors: bool = False,
) -> float:
    """Execute a notebook in place in a fresh kernel; return the wall time in seconds.

    The kernel gets ``COURSE_MODE`` (and ``KERAS_BACKEND`` when given) in its
    environment; the cell timeout is per cell.
    """
    env = dict(os.environ, **QUIET_ENV, COURSE_MODE=mode, PYTHONWARNINGS="ignore")
    if backend:
        env["KERAS_BACKEND"] = backend
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-kernel-") as sockets:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(cwd)}},
            config=_private_channels(sockets),
        )
        watch = _SignalWatch(client)
        client.on_notebook_start = watch.take_over
        try:
            client.execute(env=env, cwd=str(cwd))
        except (CellTimeoutError, DeadKernelError, CellExecutionError, AssertionError) as exc:
            watch.raise_if_stopped()
            raise NotebookError(_failure(exc, timeout)) from exc
    watch.raise_if_stopped()
    return time.perf_counter() - start


def _private_channels(folder: str) -> Config:
    """Talk to the kernel over Unix sockets in a folder only we can open, where the system
    has them: its default, TCP ports on localhost, is open to every user of the machine
    (and ipykernel warns so at each start)."""
    if os.name != "posix":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "kernel")}})


def _failure(exc: Exception, timeout: int) -> str:
    if isinstance(exc, CellTimeoutError):
        return f"a cell ran longer than {timeout} s: {_first_line(exc)}"
    if isinstance(exc, DeadKernelError):
        return f"the kernel died ({_first_line(exc)})"
    if isinstance(exc, CellExecutionError):
        return f"a cell raised an error: {_error_summary(exc)}"
    return "the kernel died while running the notebook"  # nbclient's clean-up tripped over a dead kernel


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def _error_summary(exc: CellExecutionError) -> str:
    ename = getattr(exc, "ename", "") or "Error"
    evalue = getattr(exc, "evalue", "") or _first_line(exc)
    return f"{ename}: {evalue}"


def metrics(nb: nbformat.NotebookNode) -> list[dict]:
    """The key results a lesson reported with `course_lib.runtime.record`, in order."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if METRIC_MIME in data:
                found.append(dict(data[METRIC_MIME]))
    return found


def keep_checked_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep outputs only where nbval checks them (cells marked NBVAL_CHECK_OUTPUT).

    Everything else (training logs, timings, figures) depends on the machine and the
    mode, so it is cleared to keep the committed notebook small and stable.
    """
    count = 0
    nb.metadata.pop("widgets", None)  # ipywidgets' saved state: large, and stale at once
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if CHECK_MARK in cell.source:
            # nbval refuses a cell with outputs but no execution count; number the
            # checked cells 1, 2, 3 ... so the stored notebook is stable.
            count += 1
            cell.execution_count = count
            for out in cell.outputs:
                if "execution_count" in out:
                    out.execution_count = count
        else:
            cell.execution_count = None
            cell.outputs = []
    return nb


NOTEBOOK_METADATA = {"kernelspec", "language_info"}
CELL_METADATA = {"nbgrader", "tags", "editable", "deletable"}


def unclean(nb: nbformat.NotebookNode) -> list[str]:
    """What a committed lesson notebook should not hold (as nbdev's CI checks): saved
    widget state and other metadata, outputs that nothing checks, and cells marked for
    output checking but stored unrun (nbval would skip them without a word)."""
    found = [f"notebook metadata {key!r}" for key in sorted(set(nb.metadata) - NOTEBOOK_METADATA)]
    for i, cell in enumerate(nb.cells):
        where = f"cell {i} ({cell.source.splitlines()[0][:50] if cell.source else 'empty'})"
        found += [f"{where}: metadata {key!r}" for key in sorted(set(cell.metadata) - CELL_METADATA)]
        if cell.cell_type != "code":
            continue
        checked = CHECK_MARK in cell.source
        if checked and not cell.outputs:
            found.append(f"{where}: marked {CHECK_MARK} but stored without its output")
        if cell.outputs and not checked:
            found.append(f"{where}: outputs that no test checks")
        if any(out.output_type != "stream" for out in cell.outputs):
            found.append(f"{where}: an output other than printed text")
    return found
