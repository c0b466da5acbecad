"""The grader's side of the channel into a student's process.

A `Student` is what a hidden test holds: it asks the student's kernel (or the
NumPy-only process) to call something on inputs the test chose, and gets back data
(`course_lib.exchange`), never an object of the student's with methods. Models come
back as config and weights and are rebuilt here from Keras's built-in layers only.

Every request is a fresh folder in an exchange folder that the grader owns and the
student's process sees at /exchange: the grader writes the request, the student's
process writes its reply into ``out/`` (the only folder it may write there), and the
grader reads the reply through the directory descriptor it opened when it created
``out/``, refusing links and special files.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

from course_lib import exchange, kernel, sandbox
from course_lib.exchange import ChannelError, Handle, ModelData, Ref

__all__ = ["Student", "StudentError", "ChannelError", "CallTimeout", "Unavailable", "Handle", "Ref", "ModelData"]

MAX_PARAMS = 50_000_000
SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,79}$")


class StudentError(Exception):
    """The student's code raised; the message is the grader's, naming only the exception's type."""


class CallTimeout(Exception):
    pass


class Unavailable(Exception):
    """The student's process cannot answer any more (it stopped, or never started)."""


# ---------------------------------------------------------------------- transports


class _Folders:
    """Request folders in the exchange folder (the grader's; the student's process reads it)."""

    def __init__(self, root: Path, inside: str, uid: int | None):
        self.root, self.inside, self.uid = root, inside, uid

    def new(self, request: dict) -> tuple[str, Path, int]:
        name = secrets.token_hex(8)
        folder = self.root / name
        exchange.write(request, folder)
        os.rename(folder / "value.json", folder / "request.json")
        out = folder / "out"
        out.mkdir()
        if self.uid is not None:
            os.chown(out, self.uid, self.uid)
        for path in (folder, *folder.iterdir()):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        dir_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        return f"{self.inside}/{name}", folder, dir_fd


def _reply(dir_fd: int):
    """The value in a reply folder, or StudentError for an exception the student's code raised."""
    try:
        error = exchange.read_fd(dir_fd, "error.json")
    except ChannelError:
        error = None
    if isinstance(error, dict):
        kind = error.get("type")
        kind = kind if isinstance(kind, str) and SAFE_NAME.match(kind) else "an exception"
        raise StudentError(kind)
    try:
        os.stat("value.json", dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise ChannelError("no reply came back: the request never ran to the end in the student's process") from None
    return exchange.read_fd(dir_fd, "value.json")


class KernelTransport:
    """Requests served by the student's own kernel, where the notebook ran."""

    def __init__(self, session: kernel.Session):
        self.session = session
        self.folders = _Folders(session.exchange, session.exchange_inside, session.uid)

    def ask(self, request: dict, timeout: float):
        if not self.session.alive():
            raise Unavailable("the notebook's kernel is no longer running")
        path, folder, dir_fd = self.folders.new(request)
        try:
            code = f"import course_lib.exchange as __course_exchange\n__course_exchange.serve({path!r}, globals())"
            try:
                self.session.call(code, timeout)
            except kernel.CallTimeout:
                raise CallTimeout(f"no answer within {timeout:g} s") from None
            except kernel.KernelGone as exc:
                raise Unavailable(str(exc)) from None
            return _reply(dir_fd)
        finally:
            os.close(dir_fd)
            shutil.rmtree(folder, ignore_errors=True)


class NumpyTransport:
    """Requests served by a process that has only Python's standard library and NumPy.

    The student's NumPy-only answers run there, on their own, in a jail where Keras,
    TensorFlow, JAX, PyTorch, SciPy and every other installed package do not exist.
    """

    def __init__(self, answers: list[str], settings: kernel.RunSettings):
        self.workdir = Path(tempfile.mkdtemp(prefix="course-numpy-"))
        scratch, folders = self.workdir / "scratch", self.workdir / "exchange"
        uid = sandbox.jail_uid() if settings.sandboxed else None
        sandbox.prepare_dirs(scratch, self.workdir / "run", folders, uid)
        inside = "/exchange" if settings.sandboxed else str(folders)
        (folders / "answers.json").write_text(json.dumps(answers))
        os.chmod(folders / "answers.json", 0o644)
        self.folders = _Folders(folders, inside, uid)
        requests_r, self.requests = os.pipe()
        self.replies, replies_w = os.pipe()
        argv = sandbox.numpy_argv(
            scratch,
            folders,
            settings.limits,
            f"{inside}/answers.json",
            requests_r,
            replies_w,
            sandboxed=settings.sandboxed,
            uid=uid,
        )
        self.proc = subprocess.Popen(
            argv,
            pass_fds=(requests_r, replies_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(requests_r)
        os.close(replies_w)
        self.buffer = b""
        ready = self._line(timeout=60)
        problems = ready.get("problems", []) if isinstance(ready, dict) else []
        # Only the exceptions' type names: their text comes from the student's process.
        self.problems = [
            p.split(":", 1)[0] for p in problems if isinstance(p, str) and SAFE_NAME.match(p.split(":", 1)[0])
        ]

    def _line(self, timeout: float):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CallTimeout(f"no answer within {timeout:g} s")
            ready, _, _ = select.select([self.replies], [], [], left)
            if ready:
                chunk = os.read(self.replies, 65536)
                if not chunk:
                    raise Unavailable("the NumPy-only process stopped")
                self.buffer += chunk
                if len(self.buffer) > 1 << 20:
                    raise Unavailable("the NumPy-only process wrote too much")
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            raise Unavailable("the NumPy-only process wrote something unreadable") from None

    def ask(self, request: dict, timeout: float):
        if self.proc.poll() is not None:
            raise Unavailable("the NumPy-only process stopped")
        path, folder, dir_fd = self.folders.new(request)
        try:
            try:
                os.write(self.requests, (path + "\n").encode())
                while self._line(timeout) != {"done": path}:
                    pass
            except (CallTimeout, BrokenPipeError, Unavailable):
                self.close()  # a process that stopped answering is not asked again
                raise
            return _reply(dir_fd)
        finally:
            os.close(dir_fd)
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
        self.proc.wait()
        for fd in (self.requests, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        self.requests = self.replies = -1
        shutil.rmtree(self.workdir, ignore_errors=True)


# -------------------------------------------------------------------------- student


class Student:
    """What a hidden test calls: one student's process, through the data-only channel."""

    def __init__(self, transport, timeout: float = 60):
        self.transport, self.timeout = transport, timeout
        self._drivers: dict[str, Handle] = {}

    def _ask(self, request: dict, timeout: float | None):
        return self.transport.ask(request, self.timeout if timeout is None else timeout)

    @staticmethod
    def _target(target) -> tuple[object, list[str]]:
        if isinstance(target, str):
            name, *attrs = target.split(".")
            return Ref(name), attrs
        if isinstance(target, tuple):  # (handle or name, attribute, ...)
            base, attrs = Student._target(target[0])
            return base, attrs + list(target[1:])
        if isinstance(target, Handle):
            return target, []
        raise TypeError(f"cannot call {target!r}")

    def call(self, target, *args, timeout: float | None = None, **kwargs):
        """``target(*args, **kwargs)`` in the student's process; the result as data (or a Handle).

        ``target`` is a name in the notebook (``"relu"``, ``"model.predict"``), a Handle
        from an earlier reply, or a tuple ``(handle, "method")``.
        """
        base, attrs = self._target(target)
        return self._ask({"op": "call", "target": base, "attrs": attrs, "args": list(args), "kwargs": kwargs}, timeout)

    def get(self, target, timeout: float | None = None):
        """A variable or attribute of the student's, as data (or a Handle)."""
        base, attrs = self._target(target)
        return self._ask({"op": "get", "target": base, "attrs": attrs}, timeout)

    def run(self, driver, *args, timeout: float | None = None, **kwargs):
        """Call one of the grader's driver functions in the student's process.

        A driver is trusted code that uses the student's objects (``Ref("TargetStopper")``
        in its arguments) where data cannot go, e.g. to train with a student's callback;
        it returns data. It holds no expected values: only the reply is judged, here.
        """
        name = driver.__name__
        if name not in self._drivers:
            source = textwrap.dedent(inspect.getsource(driver))
            source = "\n".join(line for line in source.splitlines() if not line.startswith("@"))
            self._drivers[name] = self._ask({"op": "define", "source": source, "name": name}, timeout)
        return self.call(self._drivers[name], *args, timeout=timeout, **kwargs)

    def model(self, target, *args, timeout: float | None = None, **kwargs):
        """Call a model builder of the student's and rebuild the model here from its data."""
        data = self.call(target, *args, timeout=timeout, **kwargs)
        return rebuild(data)


def rebuild(data):
    """A Keras model from a reply, from built-in layers only (safe mode), with its weights.

    Raises ChannelError when the reply is not a model, or a model of something else.
    """
    import keras

    if not isinstance(data, ModelData):
        raise ChannelError(f"a {type(data).__name__} came back, not a Keras model")
    config = dict(data.config)
    inner = dict(config.get("config") or {})
    config["config"] = inner
    config.pop("compile_config", None)  # how it was compiled is the student's business, not the model's
    inner.pop("compile_config", None)
    if sum(w.size for w in data.weights) > MAX_PARAMS:
        raise ChannelError(f"the model has more than {MAX_PARAMS:,} weights")
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as exc:  # a Lambda layer, a custom class, a config that is not a model
        raise ChannelError(f"the model could not be rebuilt from Keras's own layers ({type(exc).__name__})") from None
    if not isinstance(model, keras.Model):
        raise ChannelError("what came back is not a Keras model")
    if model.built and model.count_params() > MAX_PARAMS:
        raise ChannelError(f"the model has more than {MAX_PARAMS:,} parameters")
    try:
        model.set_weights(data.weights)
    except Exception:
        raise ChannelError("the model's weights do not fit its layers") from None
    return model
