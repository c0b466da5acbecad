"""Running a notebook the way grading runs it: a fresh kernel, in the jail, under limits.

Grading (`autograder.worker`) and a student's `course check` share this, so what a
student sees before handing in is what the grader will see: the same jail (where
bubblewrap exists), the same CPU, memory, process and file limits, the same time
allowed per cell and per notebook, and the same cap on stored output.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from course_lib import sandbox

KERNEL = "course-sandbox"
MAX_OUTPUT_CHARS = 100_000
MAX_OUTPUT_LINES = 1000
MAX_TRACEBACK_LINES = 100


@dataclass(frozen=True)
class RunSettings:
    """How a notebook is run; the defaults are the grader's."""

    mode: str = "smoke"
    cell_timeout: int = 600        # seconds one cell may run
    timeout: int = 1800            # seconds of wall time for the whole notebook
    sandboxed: bool = True
    threads: int = 1               # BLAS and TensorFlow threads; the grader divides the cores among its jobs
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)

    def as_dict(self) -> dict:
        return {"mode": self.mode, "cell_timeout": self.cell_timeout, "timeout": self.timeout,
                "sandboxed": self.sandboxed, "threads": self.threads, "limits": self.limits.as_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "RunSettings":
        return cls(**{**data, "limits": sandbox.Limits(**data["limits"])})


@dataclass
class Execution:
    notebook: nbformat.NotebookNode
    problem: str | None             # why the run stopped early, in plain words; None if it did not
    seconds: float
    cell_seconds: list[float | None]  # per cell, None for cells that did not run
    stopped_at: int | None = None     # the cell that was running when the run was stopped


class _SandboxKernelManager(AsyncKernelManager):
    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        # The kernel runs as its own unprivileged user and must read the file jupyter_client writes 0600.
        os.chmod(self.connection_file, 0o644)


def _folder_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total / 2**20


def _kernel_manager(workdir: Path, settings: RunSettings) -> AsyncKernelManager:
    env = sandbox.kernel_env(settings.mode, settings.threads)
    kernels = workdir / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    specs = KernelSpecManager(kernel_dirs=[str(workdir / "kernels")])
    if settings.sandboxed:
        scratch, runtime_dir = workdir / "scratch", workdir / "run"
        sandbox.prepare_dirs(scratch, runtime_dir)
        argv = sandbox.kernel_argv(scratch, runtime_dir, settings.limits, env)
        (kernels / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "sandboxed Python",
                                                         "language": "python"}))
        return _SandboxKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs, transport="ipc",
                                     ip=str(runtime_dir / "k"), connection_file=str(runtime_dir / "connection.json"))
    scratch = workdir / "scratch"
    scratch.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    env = dict(env, HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch / ".matplotlib"),
               PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    (kernels / "kernel.json").write_text(json.dumps({"argv": argv, "env": env, "display_name": "Python",
                                                     "language": "python"}))
    return AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


def limit_outputs(nb: nbformat.NotebookNode, keep_tags: tuple[str, ...] = ()) -> None:
    """Keep stored outputs small: 1,000 lines or 100,000 characters a stream, 100 traceback lines.

    Cells tagged with one of ``keep_tags`` keep their outputs whole.
    """
    for cell in nb.cells:
        if set(keep_tags) & set(cell.metadata.get("tags", [])):
            continue
        for out in cell.get("outputs", []):
            text = out.get("text")
            if isinstance(text, str):
                lines = text.splitlines(keepends=True)
                if len(lines) > MAX_OUTPUT_LINES or len(text) > MAX_OUTPUT_CHARS:
                    out["text"] = ("".join(lines[:MAX_OUTPUT_LINES])[:MAX_OUTPUT_CHARS]
                                   + "\n... (output truncated by the grader)\n")
            if len(out.get("traceback", [])) > MAX_TRACEBACK_LINES:
                half = MAX_TRACEBACK_LINES // 2
                out["traceback"] = out["traceback"][:half] + ["..."] + out["traceback"][-half:]


def _kill(km: AsyncKernelManager) -> None:
    """Kill the kernel from another thread; bwrap takes everything in its jail down with it."""
    pid = getattr(km.provisioner, "pid", None) if km.provisioner else None
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _timings(nb: nbformat.NotebookNode) -> tuple[list[float | None], int | None]:
    """Each cell's run time, and the cell started but never finished, from nbclient's timing
    metadata (which is then removed)."""
    seconds, unfinished = [], None
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    for index, cell in enumerate(nb.cells):
        timing = cell.metadata.pop("execution", None) or {}
        start = timing.get("iopub.execute_input") or timing.get("iopub.status.busy")
        end = timing.get("shell.execute_reply")
        if start and end:
            seconds.append(round((parse(end) - parse(start)).total_seconds(), 2))
        else:
            seconds.append(None)
            if start and unfinished is None:
                unfinished = index
    return seconds, unfinished


def run(nb: nbformat.NotebookNode, settings: RunSettings, *, keep_tags: tuple[str, ...] = (),
        tmp_root: str | None = None) -> Execution:
    """Execute a copy of ``nb`` in a fresh kernel; errors in cells are kept as outputs."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    workdir = Path(tempfile.mkdtemp(prefix="course-run-", dir=tmp_root))
    problem = None
    start = time.perf_counter()
    try:
        km = _kernel_manager(workdir, settings)
        client = NotebookClient(nb, km=km, timeout=settings.cell_timeout, allow_errors=True,
                                kernel_name=KERNEL, record_timing=True)
        stop = threading.Event()
        stopped: list[str] = []

        def watch():
            deadline = start + settings.timeout
            while not stop.wait(0.5):
                if _folder_mb(workdir / "scratch") > settings.limits.scratch_mb:
                    stopped.append(f"the notebook wrote more than {settings.limits.scratch_mb} MB of files "
                                   "and was stopped")
                elif time.perf_counter() > deadline:
                    stopped.append(f"the notebook ran longer than {settings.timeout} s in all and was stopped")
                else:
                    continue
                _kill(km)
                return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            # What the kernel prints outside cells (IPython's banner, crashes) is not the notebook's.
            client.execute(cwd=str(workdir / "scratch"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except CellTimeoutError:
            problem = f"a cell ran longer than {settings.cell_timeout} s (an endless loop?) and was stopped"
        except DeadKernelError:
            problem = "the notebook stopped the Python kernel (it exited, crashed, or ran out of memory or CPU time)"
        except AssertionError:  # nbclient's clean-up can trip over a kernel that died mid-cell
            problem = "the notebook stopped the Python kernel"
        finally:
            stop.set()
            if stopped:
                problem = stopped[0]
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:
                pass
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    limit_outputs(nb, keep_tags)
    seconds, unfinished = _timings(nb)
    if problem and unfinished is None:  # killed before the cell's start was recorded: the first not run
        ran = [i for i, s in enumerate(seconds) if s is not None]
        unfinished = next((i for i, c in enumerate(nb.cells)
                           if c.cell_type == "code" and i > (ran[-1] if ran else -1)), None)
    return Execution(nb, problem, round(time.perf_counter() - start, 2), seconds, unfinished if problem else None)
