"""Execute one prepared submission in the sandbox: ``python -m autograder.worker JOB RESULT``.

A worker is a process of its own, started by the grader (or by a Dask worker on
another machine), so a notebook that floods its output or leaks memory costs this
process, never the grader. It reads a job (the notebook to run, limits, mode) and
writes a result (the executed notebook, or why it could not finish) atomically.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from autograder import sandbox
from autograder.integrity import PROBE_TAG

KERNEL = "course-sandbox"
WORKER_MEMORY_BYTES = 4 * 2**30
MAX_OUTPUT_CHARS = 100_000
MAX_OUTPUT_LINES = 1000


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


def _kernel_manager(workdir: Path, job: dict) -> AsyncKernelManager:
    limits = sandbox.Limits(**job["limits"])
    env = sandbox.kernel_env(job["mode"], job.get("threads", 1))
    kernels = workdir / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    if job["sandbox"]:
        scratch, runtime_dir = workdir / "scratch", workdir / "run"
        sandbox.prepare_dirs(scratch, runtime_dir)
        argv = sandbox.kernel_argv(scratch, runtime_dir, limits, env)
        spec = {"argv": argv, "display_name": "sandboxed Python", "language": "python"}
        (kernels / "kernel.json").write_text(json.dumps(spec))
        return _SandboxKernelManager(
            kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(workdir / "kernels")]),
            transport="ipc", ip=str(runtime_dir / "k"), connection_file=str(runtime_dir / "connection.json"))
    scratch = workdir / "scratch"
    scratch.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    env = dict(env, HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch / ".matplotlib"),
               PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    (kernels / "kernel.json").write_text(json.dumps({"argv": argv, "env": env, "display_name": "Python",
                                                     "language": "python"}))
    return AsyncKernelManager(kernel_name=KERNEL,
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(workdir / "kernels")]))


def _limit_outputs(nb) -> None:
    """Keep stored outputs small: 1,000 lines or 100,000 characters a stream, 100 traceback lines."""
    for cell in nb.cells:
        if PROBE_TAG in cell.metadata.get("tags", []):
            continue  # the grader's own probe: read back whole, then removed
        for out in cell.get("outputs", []):
            text = out.get("text")
            if isinstance(text, str):
                lines = text.splitlines(keepends=True)
                if len(lines) > MAX_OUTPUT_LINES or len(text) > MAX_OUTPUT_CHARS:
                    out["text"] = "".join(lines[:MAX_OUTPUT_LINES])[:MAX_OUTPUT_CHARS] + "\n... (output truncated by the grader)\n"
            if len(out.get("traceback", [])) > 100:
                out["traceback"] = out["traceback"][:50] + ["..."] + out["traceback"][-50:]


def _kill(km: AsyncKernelManager) -> None:
    """Kill the kernel from another thread; bwrap takes everything in its jail down with it."""
    pid = getattr(km.provisioner, "pid", None) if km.provisioner else None
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def execute(job: dict) -> dict:
    """Run the job's notebook; return {"notebook", "error", "seconds"}."""
    nb = nbformat.from_dict(job["notebook"])
    workdir = Path(tempfile.mkdtemp(prefix="course-grade-", dir=job.get("tmp_root")))
    problem = None
    start = time.perf_counter()
    try:
        km = _kernel_manager(workdir, job)
        client = NotebookClient(nb, km=km, timeout=job["cell_timeout"], allow_errors=True,
                                kernel_name=KERNEL, record_timing=False)
        stop = threading.Event()
        flooded = []

        def watch_scratch():
            limit = job["limits"]["scratch_mb"]
            while not stop.wait(0.5):
                if _folder_mb(workdir / "scratch") > limit:
                    flooded.append(limit)
                    _kill(km)
                    return

        watcher = threading.Thread(target=watch_scratch, daemon=True)
        watcher.start()
        try:
            client.execute(cwd=str(workdir / "scratch"))
        except CellTimeoutError:
            problem = f"a cell ran longer than {job['cell_timeout']} s (an endless loop?) and was stopped"
        except DeadKernelError:
            problem = "the notebook stopped the Python kernel (it exited, crashed, or ran out of memory or CPU time)"
        finally:
            stop.set()
            if flooded:
                problem = f"the notebook wrote more than {flooded[0]} MB of files and was stopped"
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:
                pass
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _limit_outputs(nb)
    return {"notebook": nb, "error": problem, "seconds": round(time.perf_counter() - start, 2)}


def _limit_worker_memory():  # runs in the worker process just before it starts
    # Soft limit only: the kernel's own (larger) limit is set by the sandbox, and a
    # process may raise its soft limit up to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, hard))
    os.setsid()


def run_isolated(job: dict) -> dict:
    """Run a job in a fresh worker process; a crash or a timeout becomes an error result.

    This is what the grader's thread pool and Dask workers call: the memory a
    notebook's output takes, and any crash, stay in that process.
    """
    timeout = job["timeout"]
    with tempfile.TemporaryDirectory(prefix="course-job-") as tmp:
        job_path, result_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job))
        proc = subprocess.Popen([sys.executable, "-m", "autograder.worker", str(job_path), str(result_path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_limit_worker_memory)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"notebook": job["notebook"], "error": f"grading stopped after {timeout} s of wall time",
                    "seconds": timeout}
        if not result_path.exists():
            why = "it produced more output than fits in memory" if "MemoryError" in (err or "") else (err or "").strip()[-200:]
            return {"notebook": job["notebook"], "error": f"the grader's worker for this notebook failed ({why})",
                    "seconds": 0}
        return json.loads(result_path.read_text())


def main(argv: list[str]) -> int:
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = json.loads(job_path.read_text())
    result = execute(job)
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
