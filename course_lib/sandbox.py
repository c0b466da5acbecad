"""The jail a student's kernel runs in, for grading and for `course check` alike.

bubblewrap gives the kernel its own mount, PID, network, IPC and UTS namespaces:
it sees the Python installation, `course_lib` and the datasets read-only, one
empty scratch folder as home, working directory and /tmp, and nothing else: not
the course repository, the gradebook, the hidden tests or other students' work.
There is no network (the kernel talks to the grader over Unix sockets in a
folder bound into the jail). When the grader runs as root the kernel drops to an
unprivileged user ID of its own (see `jail_uid`), so the process limit really
limits it and binds that jail alone; CPU time, memory, file size and open files
are capped with rlimits.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

# Jail user IDs: far above any account's, and new for every jail, because RLIMIT_NPROC
# counts all processes of a user ID. Were kernels to share one, a student's fork bomb
# would use up the process budget of the kernels beside it, or of the next student's
# kernel while the bomb's processes are still being torn down.
UID_BASE = 1_500_000_000
_PID_LIMIT = 2**22  # Linux's largest pid_max
_JAILS_PER_PROCESS = 2**9


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 900  # CPU time for the whole kernel
    memory_mb: int = 10240  # address space; TensorFlow with oneDNN reserves a lot (lesson 09: over 6 GiB)
    processes: int = 512  # threads count too: TF and BLAS use dozens
    file_mb: int = 200  # largest file the kernel may write
    open_files: int = 1024
    scratch_mb: int = 1024  # total size of the scratch folder (watched by the worker)

    def as_dict(self) -> dict:
        return asdict(self)


class SandboxUnavailable(RuntimeError):
    pass


def require() -> None:
    """Raise SandboxUnavailable, naming the fix, if this machine cannot build the jail."""
    if sys.platform != "linux":
        raise SandboxUnavailable(
            "the grading sandbox needs Linux (bubblewrap); use --no-sandbox only for trusted notebooks"
        )
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(
            "bubblewrap is not installed: run `sudo apt-get install bubblewrap` "
            "(or `make system`), or pass --no-sandbox for trusted notebooks only"
        )
    probe = subprocess.run(
        ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create namespaces here ({probe.stderr.strip()}); "
            "run the grader as root or enable unprivileged user namespaces"
        )


def _course_lib_dir() -> Path:
    return Path(__file__).resolve().parent


def _ro_paths() -> list[Path]:
    """What a kernel must read: the Python installation, the venv, course_lib and the data."""
    from course_lib import datasets

    paths = {Path(sys.base_prefix), Path(sys.prefix), _course_lib_dir()}
    for extra in (datasets.data_dir(), datasets.keras_home()):
        if extra.exists():
            paths.add(extra.resolve())
    return sorted(p for p in paths if not str(p).startswith(("/usr/", "/etc/")))


_jail_numbers = itertools.count(secrets.randbelow(_JAILS_PER_PROCESS))


def jail_uid() -> int | None:
    """A user ID for a new jail; None when the grader is not root (it cannot switch).

    Process IDs are unique among live processes, and each process numbers its jails: two
    jails share a user ID only if one process started 512 jails in between, long after
    the first one's processes are gone. Stays below 2**32 - 1 (which means "no user").
    """
    if os.geteuid() != 0:
        return None
    return UID_BASE + (os.getpid() % _PID_LIMIT) * _JAILS_PER_PROCESS + next(_jail_numbers) % _JAILS_PER_PROCESS


def _mkdirs(path: Path) -> list[str]:
    """bwrap creates missing parents 0700; make each one 0755 so the kernel's user can walk through."""
    args = []
    for parent in reversed(path.parents):
        if str(parent) != "/":
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _jail(
    scratch: Path, exchange: Path | None, limits: Limits, env: dict[str, str], binds: list[str], uid: int | None
) -> list[str]:
    """bwrap and prlimit arguments for a jail: the system read-only, ``binds``, the scratch
    folder as /scratch and /tmp, the exchange folder as /exchange, then the limits and the
    drop to the jail's own user ID ``uid`` (from `jail_uid`). The command to run goes after."""
    args = [
        "bwrap",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--ro-bind",
        "/usr",
        "/usr",
        "--ro-bind",
        "/etc",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    for link in ("lib", "lib64", "bin", "sbin"):
        if Path(f"/{link}").is_symlink():
            args += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        elif Path(f"/{link}").is_dir():
            args += ["--ro-bind", f"/{link}", f"/{link}"]
    # /tmp first: later binds may live below it (the grader's own temporary folders).
    args += ["--bind", str(scratch), "/scratch", "--bind", str(scratch / "tmp"), "/tmp"]
    if exchange is not None:
        # The grader's request folders: the jail's user may write only the reply folders in it.
        args += ["--bind", str(exchange), "/exchange"]
    args += binds + ["--chdir", "/scratch"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    # Limits first (while we may still raise them), then drop to the jail's own user ID.
    args += [
        "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_mb * 2**20}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_mb * 2**20}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]
    if uid is not None:
        args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all"]
    return args


def kernel_argv(
    scratch: Path,
    runtime_dir: Path,
    limits: Limits,
    env: dict[str, str],
    exchange: Path | None = None,
    uid: int | None = None,
) -> list[str]:
    """The command line that starts an IPython kernel inside the jail.

    Ends with ``{connection_file}``, which jupyter_client fills in.
    """
    binds = []
    for path in _ro_paths():
        binds += _mkdirs(path) + ["--ro-bind", str(path), str(path)]
    binds += _mkdirs(runtime_dir) + ["--bind", str(runtime_dir), str(runtime_dir)]
    return _jail(scratch, exchange, limits, env, binds, uid) + [
        sys.executable,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]


# What the NumPy-only process may import besides the standard library.
NUMPY_ONLY = ("numpy", "numpy.libs")
_NUMPY_SITE = "/course-numpy-only"


def _numpy_packages() -> list[Path]:
    import numpy

    site = Path(numpy.__file__).resolve().parent.parent
    return [site / name for name in NUMPY_ONLY if (site / name).exists()] + [_course_lib_dir()]


def _base_site_dirs() -> list[Path]:
    """Folders where the base interpreter would find installed packages, to hide in the jail."""
    import glob

    base = Path(sys.base_prefix)
    found = glob.glob(str(base / "lib" / "python3*" / "site-packages"))
    found += glob.glob("/usr/lib/python3*/dist-packages") + glob.glob("/usr/local/lib/python3*/dist-packages")
    found += glob.glob("/usr/local/lib/python3*/site-packages")
    return [Path(p) for p in sorted(set(found)) if Path(p).is_dir()]


def numpy_argv(
    scratch: Path,
    exchange: Path,
    limits: Limits,
    answers: str,
    requests_fd: int,
    replies_fd: int,
    *,
    sandboxed: bool = True,
    uid: int | None = None,
) -> list[str]:
    """The command line of the NumPy-only process (`course_lib.exchange`), in its own jail.

    The jail holds the base interpreter's standard library, NumPy and course_lib, and no
    other package: the venv is not in it and the base interpreter's package folders are
    hidden, so Keras, TensorFlow, JAX, PyTorch, SciPy, OpenCV and the rest cannot be
    imported by any means. Unsandboxed (trusted notebooks only) it only starts clean.
    """
    python = os.path.realpath(sys.executable)  # the base interpreter behind the venv
    if sandboxed:
        site, binds = _NUMPY_SITE, []
        for path in _base_site_dirs():
            binds += ["--tmpfs", str(path)]
        for path in (Path(sys.base_prefix),):
            if not str(path).startswith(("/usr/", "/etc/")):
                binds = _mkdirs(path) + ["--ro-bind", str(path), str(path)] + binds
        binds += ["--perms", "0755", "--dir", site]
        for package in _numpy_packages():
            binds += ["--ro-bind", str(package), f"{site}/{package.name}"]
        prefix = _jail(
            scratch,
            exchange,
            limits,
            {
                "HOME": "/scratch",
                "TMPDIR": "/tmp",
                "LANG": "C.UTF-8",
                "PATH": "/usr/bin:/bin",
                "OPENBLAS_NUM_THREADS": "1",
            },
            binds,
            uid,
        )
    else:
        site = str(scratch.parent / "site")
        Path(site).mkdir(exist_ok=True)
        for package in _numpy_packages():
            link = Path(site) / package.name
            if not link.exists():
                link.symlink_to(package)
        prefix = []
    boot = (
        f"import sys; sys.path[:0] = [{site!r}]; import runpy; "
        "runpy.run_module('course_lib.exchange', run_name='__main__', alter_sys=True)"
    )
    return prefix + [python, "-S", "-c", boot, answers, str(requests_fd), str(replies_fd)]


def prepare_dirs(scratch: Path, runtime_dir: Path, exchange: Path | None = None, uid: int | None = None) -> None:
    """Create the scratch and socket folders, owned by the jail's user ``uid``, and the
    exchange folder, owned by the grader (so the kernel cannot move what the grader puts there)."""
    for folder in (scratch, scratch / "tmp", runtime_dir):
        folder.mkdir(parents=True, exist_ok=True)
        if uid is not None:
            os.chown(folder, uid, uid)
        folder.chmod(0o700)
    if uid is not None:
        runtime_dir.chmod(0o777)  # the grader (root) writes the connection file, the kernel its sockets
    if exchange is not None:
        exchange.mkdir(parents=True, exist_ok=True)
        exchange.chmod(0o755)


def kernel_env(mode: str, threads: int) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's leaks in."""
    from course_lib import datasets
    from course_lib.runtime import QUIET_ENV

    env = {
        "HOME": "/scratch",
        "TMPDIR": "/tmp",
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "COURSE_MODE": mode,
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": "/scratch/.matplotlib",
        "PYTHONNOUSERSITE": "1",
        "PYTHONWARNINGS": "ignore",
        "COURSE_DATA_DIR": str(datasets.data_dir()),
        "KERAS_HOME": str(datasets.keras_home()),
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        **QUIET_ENV,
    }
    if "KERAS_BACKEND" in os.environ:
        env["KERAS_BACKEND"] = os.environ["KERAS_BACKEND"]
    # The course_lib bound into the jail is the one this process uses; without this the
    # kernel's interpreter might look for another checkout's (an editable install's path).
    env["PYTHONPATH"] = str(_course_lib_dir().parent)
    return env
