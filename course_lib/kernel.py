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
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from course_lib import sandbox

KERNEL = "course-sandbox"
# nbgrader's LimitOutput keeps 1,000 lines a stream and 100 traceback lines; these match
# it. It is not used here because it counts lines only (one 50 MB line would be stored
# whole, `tests/catalogue.py`'s huge_output), and because `course check` runs this same
# code on students' machines, where nbgrader, an instructor tool, is not installed.
MAX_OUTPUT_CHARS = 100_000
MAX_OUTPUT_LINES = 1000
MAX_TRACEBACK_LINES = 100


@dataclass(frozen=True)
class RunSettings:
    """How a notebook is run; the defaults are the grader's."""

    mode: str = "smoke"
    cell_timeout: int = 600  # seconds one cell may run
    timeout: int = 1800  # seconds of wall time for the whole notebook
    sandboxed: bool = True
    threads: int = 1  # BLAS and TensorFlow threads; the grader divides the cores among its jobs
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "cell_timeout": self.cell_timeout,
            "timeout": self.timeout,
            "sandboxed": self.sandboxed,
            "threads": self.threads,
            "limits": self.limits.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "RunSettings":
        return cls(**{**data, "limits": sandbox.Limits(**data["limits"])})


@dataclass
class Execution:
    notebook: nbformat.NotebookNode
    problem: str | None  # why the run stopped early, in plain words; None if it did not
    seconds: float
    cell_seconds: list[float | None]  # per cell, None for cells that did not run
    stopped_at: int | None = None  # the cell that was running when the run was stopped


class _PromptClient(AsyncKernelClient):
    """jupyter_client's client, ready as soon as the kernel answers on both channels.

    jupyter_client's own `wait_for_ready` then listens on IOPub until it has been quiet
    for 0.2 s: a fifth of a second of idle processor in every notebook graded.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:  # IOPub is connected once anything arrives on it; else ask again
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:  # what IOPub holds now answers kernel_info, not the notebook
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                return


class _SandboxKernelManager(AsyncKernelManager):
    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        # The kernel runs as its own unprivileged user and must read the file jupyter_client writes 0600.
        os.chmod(self.connection_file, 0o644)


CLIENT = f"{__name__}.{_PromptClient.__name__}"


def _folder_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total / 2**20


def _kernel_manager(workdir: Path, settings: RunSettings, uid: int | None) -> AsyncKernelManager:
    env = sandbox.kernel_env(settings.mode, settings.threads)
    kernels = workdir / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    specs = KernelSpecManager(kernel_dirs=[str(workdir / "kernels")])
    if settings.sandboxed:
        scratch, runtime_dir, exchange = workdir / "scratch", workdir / "run", workdir / "exchange"
        sandbox.prepare_dirs(scratch, runtime_dir, exchange, uid)
        argv = sandbox.kernel_argv(scratch, runtime_dir, settings.limits, env, exchange, uid)
        # Signals cannot reach the kernel in the jail's own session: interrupt it by message.
        (kernels / "kernel.json").write_text(
            json.dumps(
                {"argv": argv, "display_name": "sandboxed Python", "language": "python", "interrupt_mode": "message"}
            )
        )
        return _SandboxKernelManager(
            kernel_name=KERNEL,
            client_class=CLIENT,
            kernel_spec_manager=specs,
            transport="ipc",
            ip=str(runtime_dir / "k"),
            connection_file=str(runtime_dir / "connection.json"),
        )
    scratch = workdir / "scratch"
    scratch.mkdir()
    (workdir / "exchange").mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    env = dict(
        env,
        HOME=str(scratch),
        TMPDIR=str(scratch),
        MPLCONFIGDIR=str(scratch / ".matplotlib"),
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
    )
    (kernels / "kernel.json").write_text(
        json.dumps({"argv": argv, "env": env, "display_name": "Python", "language": "python"})
    )
    if os.name != "posix":  # no Unix sockets: TCP on localhost
        return AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs, client_class=CLIENT)
    # Unix sockets in our private temporary folder: a localhost TCP port is open to every user.
    return AsyncKernelManager(
        kernel_name=KERNEL, kernel_spec_manager=specs, client_class=CLIENT, transport="ipc", ip=str(workdir / "k")
    )


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
                    out["text"] = (
                        "".join(lines[:MAX_OUTPUT_LINES])[:MAX_OUTPUT_CHARS]
                        + "\n... (output truncated by the grader)\n"
                    )
            if len(out.get("traceback", [])) > MAX_TRACEBACK_LINES:
                half = MAX_TRACEBACK_LINES // 2
                out["traceback"] = out["traceback"][:half] + ["..."] + out["traceback"][-half:]


def _kill(km: AsyncKernelManager, reap: bool = False) -> None:
    """Kill the kernel, from any thread; bwrap takes everything in its jail down with it.
    With ``reap``, wait for its end (jupyter_client's shutdown would look every 0.1 s)."""
    process = getattr(km.provisioner, "process", None) if km.provisioner else None
    if process is None:
        return
    process.kill()
    if reap:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
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


class _Client(NotebookClient):
    """nbclient with a budget on what each cell may send back (so a flood costs this
    process bounded memory), and a quiet mode for the grader's own requests, whose output
    (what the student's code prints during hidden tests) is dropped."""

    def __init__(self, *args, budget: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget, self.spent, self.quiet, self.truncated = budget, {}, False, set()

    def output(self, outs, msg, display_id, cell_index):
        if self.quiet:
            return None
        spent = self.spent.get(cell_index, 0) + len(json.dumps(msg.get("content", {}), default=str))
        self.spent[cell_index] = spent
        if spent > self.budget:
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                outs.append(
                    nbformat.v4.new_output("stream", name="stdout", text="... (output truncated by the grader)\n")
                )
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id, msg):
        if not self.quiet:
            super()._update_display_id(display_id, msg)


class KernelGone(RuntimeError):
    """The kernel died, or was stopped for a limit, and cannot answer any more."""


class CallTimeout(RuntimeError):
    """A request to the kernel ran out of time; the kernel was interrupted (or stopped)."""


class Session:
    """One fresh kernel under the grader's settings, kept alive after the notebook runs,
    so that the grader can make requests of it (`call`). Use it as a context manager."""

    def __init__(self, settings: RunSettings):
        self.settings = settings
        self.stopped: list[str] = []

    # -- set up and tear down

    def __enter__(self) -> "Session":
        self.workdir = Path(tempfile.mkdtemp(prefix="course-run-"))
        self.scratch, self.exchange = self.workdir / "scratch", self.workdir / "exchange"
        self._stop = threading.Event()
        self.deadline = None
        try:
            # The jail's user ID: the grader's request folders are handed to it (`autograder.student`).
            self.uid = sandbox.jail_uid() if self.settings.sandboxed else None
            self.km = _kernel_manager(self.workdir, self.settings, self.uid)
            self.client = _Client(
                nbformat.v4.new_notebook(),
                km=self.km,
                timeout=self.settings.cell_timeout,
                allow_errors=True,
                kernel_name=KERNEL,
                record_timing=True,
                budget=MAX_OUTPUT_CHARS * 10,
            )
            threading.Thread(target=self._watch, daemon=True).start()
            # What the kernel prints outside cells (IPython's banner, crashes) is not the notebook's.
            run_sync(self.client.async_start_new_kernel)(
                cwd=str(self.scratch), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            run_sync(self.client.async_start_new_kernel_client)()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        client, km = getattr(self, "client", None), getattr(self, "km", None)
        try:
            if client is not None and client.kc is not None:
                client.kc.stop_channels()
            if km is not None:
                _kill(km, reap=True)
                run_sync(km.shutdown_kernel)(now=True)
        except Exception:
            pass
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            if _folder_mb(self.scratch) + _folder_mb(self.exchange) > self.settings.limits.scratch_mb:
                self.stopped.append(
                    f"the notebook wrote more than {self.settings.limits.scratch_mb} MB of files and was stopped"
                )
            elif self.deadline is not None and time.perf_counter() > self.deadline:
                self.stopped.append(f"the notebook ran longer than {self.settings.timeout} s in all and was stopped")
            else:
                continue
            _kill(self.km)
            return

    @property
    def exchange_inside(self) -> str:
        """The grader's request folder as the kernel sees it."""
        return "/exchange" if self.settings.sandboxed else str(self.exchange)

    # -- running

    def run_notebook(self, nb: nbformat.NotebookNode, keep_tags: tuple[str, ...] = ()) -> Execution:
        """Execute a copy of ``nb`` cell by cell; errors in cells are kept as outputs."""
        nb = nbformat.from_dict(json.loads(json.dumps(nb)))
        self.client.nb = nb
        self.client.reset_execution_trackers()
        start = time.perf_counter()
        self.deadline = start + self.settings.timeout
        problem = None
        try:
            for index, cell in enumerate(nb.cells):
                self.client.execute_cell(cell, index, execution_count=self.client.code_cells_executed + 1)
        except CellTimeoutError:
            problem = f"a cell ran longer than {self.settings.cell_timeout} s (an endless loop?) and was stopped"
            _kill(self.km)
        except DeadKernelError:
            problem = "the notebook stopped the Python kernel (it exited, crashed, or ran out of memory or CPU time)"
        except AssertionError:  # nbclient can trip over a kernel that died mid-cell
            problem = "the notebook stopped the Python kernel"
        finally:
            self.deadline = None
        if self.stopped:
            problem = self.stopped[0]
        limit_outputs(nb, keep_tags)
        seconds, unfinished = _timings(nb)
        if problem and unfinished is None:  # killed before the cell's start was recorded: the first not run
            ran = [i for i, s in enumerate(seconds) if s is not None]
            unfinished = next(
                (i for i, c in enumerate(nb.cells) if c.cell_type == "code" and i > (ran[-1] if ran else -1)), None
            )
        return Execution(nb, problem, round(time.perf_counter() - start, 2), seconds, unfinished if problem else None)

    def alive(self) -> bool:
        return not self.stopped and bool(self.client.kc) and run_sync(self.km.is_alive)()

    def call(self, code: str, timeout: float) -> None:
        """Run the grader's code in the kernel, its output dropped; raise CallTimeout or KernelGone."""
        if not self.alive():
            raise KernelGone(self.stopped[0] if self.stopped else "the kernel is no longer running")
        try:
            self._quietly(code, timeout)
        except CellTimeoutError:
            self._interrupt()
            raise CallTimeout(f"no answer within {timeout:g} s") from None
        except (DeadKernelError, AssertionError):
            raise KernelGone("the kernel stopped while answering") from None

    def _quietly(self, code: str, timeout: float) -> None:
        """Execute code as a cell of a notebook of its own (nbclient writes cells back into its
        notebook), with its output dropped."""
        cell = nbformat.v4.new_code_cell(code)
        notebook, self.client.nb = self.client.nb, nbformat.v4.new_notebook(cells=[cell])
        self.client.quiet, self.client.timeout = True, max(1, int(timeout))
        try:
            self.client.execute_cell(cell, 0, store_history=False)
        finally:
            self.client.nb, self.client.quiet, self.client.timeout = notebook, False, self.settings.cell_timeout

    def _interrupt(self) -> None:
        """Interrupt a request that ran out of time; stop the kernel if it does not come back."""
        try:
            run_sync(self.km.interrupt_kernel)()
            self._quietly("pass", 10)
        except Exception:
            _kill(self.km)
            self.stopped.append("the kernel did not respond after an interrupt and was stopped")


def run(nb: nbformat.NotebookNode, settings: RunSettings, *, keep_tags: tuple[str, ...] = ()) -> Execution:
    """Execute a copy of ``nb`` in a fresh kernel; errors in cells are kept as outputs."""
    with Session(settings) as session:
        return session.run_notebook(nb, keep_tags)
