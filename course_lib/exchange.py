"""The data-only channel between a student's process and the grader.

The grader asks a student's kernel (or the NumPy-only process) to call one of its
functions on inputs the grader chose; what comes back is data and nothing else:

* JSON: None, booleans, integers, floats, strings, and lists, tuples and dicts of data;
* NumPy arrays of numbers or booleans, as ``.npy`` files read without pickle;
* Keras models, as their config (JSON) and their weights (``.npy``), which the grader
  rebuilds from built-in layers only;
* anything else (a function a factory returned, an instance of a student's class)
  stays in the student's process and crosses as an opaque handle the grader may use
  in a later request.

A request or a reply is a folder: ``value.json`` holds the data, every node tagged
(``{"list": [...]}``, ``{"array": "a0.npy"}``, ...), beside the ``.npy`` files it names.
`serve` answers one request inside the student's process; `read` is how the grader
takes a reply in, as hostile input: every size bounded, file names checked, symbolic
links and special files refused, arrays of numbers only.

This module imports nothing but the standard library and NumPy, so the NumPy-only
process can serve requests in a jail where nothing else exists.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_JSON_BYTES = 4 * 2**20
MAX_ARRAY_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 512 * 2**20
MAX_NODES = 200_000
MAX_DEPTH = 64
ARRAY_NAME = re.compile(r"^a\d{1,6}\.npy$")
NUMERIC_KINDS = "biufc"  # booleans, integers, unsigned, floats, complex: never objects or strings

_HANDLES: dict[int, object] = {}


class ChannelError(ValueError):
    """A request or reply that is not well-formed data (too big, wrong types, bad files)."""


@dataclass(frozen=True)
class Handle:
    """An object that stayed in the student's process, by number."""

    id: int


@dataclass(frozen=True)
class Ref:
    """A name in the student's notebook, resolved in the student's process."""

    name: str


@dataclass(frozen=True)
class ModelData:
    """A Keras model as plain data: its serialized config and its weights."""

    config: dict
    weights: list


# --------------------------------------------------------------------------- writing


class _Writer:
    def __init__(self, folder: Path, handles: bool):
        self.folder, self.handles, self.arrays = folder, handles, 0

    def array(self, value: np.ndarray) -> dict:
        if value.dtype.kind not in NUMERIC_KINDS:
            raise ChannelError(f"an array of {value.dtype} cannot cross; only numbers and booleans do")
        name = f"a{self.arrays}.npy"
        self.arrays += 1
        np.save(self.folder / name, np.ascontiguousarray(value), allow_pickle=False)
        return {"array": name}

    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ChannelError("the value is nested too deeply")
        # Only plain built-in values go into the JSON: a subclass (an int whose == lies, say)
        # is converted to the built-in type, so nothing with methods of its own crosses.
        if value is None or type(value) in (bool, int, float, str):
            return value
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return float(value)
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, Handle):
            return {"handle": int(value.id)}
        if isinstance(value, Ref):
            return {"ref": str(value.name)}
        if isinstance(value, (list, tuple)):
            tag = "tuple" if isinstance(value, tuple) else "list"
            return {tag: [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, np.ndarray):
            return self.array(value)
        model = value if isinstance(value, ModelData) else _as_model(value)
        if model is not None:
            return {"model": {"config": model.config, "weights": [self.array(np.asarray(w)) for w in model.weights]}}
        array = _as_array(value)
        if array is not None:
            return self.array(array)
        if self.handles:
            key = len(_HANDLES) + 1
            _HANDLES[key] = value
            return {"handle": key}
        raise ChannelError(f"a {type(value).__name__} cannot cross the channel")


def _as_model(value) -> ModelData | None:
    keras = sys.modules.get("keras")
    if keras is None or not isinstance(value, keras.Model):
        return None
    config = keras.saving.serialize_keras_object(value)
    return ModelData(json.loads(json.dumps(config)), [np.asarray(w) for w in value.get_weights()])


def _as_array(value) -> np.ndarray | None:
    """A backend tensor (TensorFlow, JAX, PyTorch) as a NumPy array; None for anything else."""
    module = type(value).__module__.split(".")[0]
    if module not in ("tensorflow", "jax", "jaxlib", "torch", "keras"):
        return None
    if module == "torch":
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except Exception:
        return None
    return array if array.dtype.kind in NUMERIC_KINDS else None


def write(value, folder: Path, *, handles: bool = False) -> None:
    """Write ``value`` into ``folder`` (created); objects become handles when ``handles``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tree = _Writer(folder, handles).encode(value)
    (folder / "value.json").write_text(json.dumps(tree, allow_nan=True))


# --------------------------------------------------------------------------- reading


def _open_regular(dir_fd: int, name: str, limit: int) -> tuple[int, int]:
    """Open a regular file in a directory, refusing links and special files; (fd, size)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        raise ChannelError(f"{name} cannot be opened ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ChannelError(f"{name} is not a regular file")
    if info.st_size > limit:
        os.close(fd)
        raise ChannelError(f"{name} is {info.st_size} bytes, over the limit of {limit}")
    return fd, info.st_size


class _Reader:
    def __init__(self, dir_fd: int):
        self.dir_fd, self.nodes, self.total, self.seen = dir_fd, 0, 0, set()

    def array(self, name) -> np.ndarray:
        if not isinstance(name, str) or not ARRAY_NAME.match(name) or name in self.seen:
            raise ChannelError(f"bad array reference {str(name)[:40]!r}")
        self.seen.add(name)
        fd, size = _open_regular(self.dir_fd, name, MAX_ARRAY_BYTES)
        self.total += size
        if self.total > MAX_TOTAL_BYTES:
            os.close(fd)
            raise ChannelError(f"the reply holds more than {MAX_TOTAL_BYTES} bytes of arrays")
        with os.fdopen(fd, "rb") as fh:
            try:
                version = np.lib.format.read_magic(fh)
                readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in readers:
                    raise ValueError(f"format version {version}")
                shape, fortran, dtype = readers[version](fh)
            except Exception as exc:  # numpy raises several kinds for a bad header
                raise ChannelError(f"{name} is not a .npy file ({exc})") from None
            if dtype.kind not in NUMERIC_KINDS or dtype.hasobject:
                raise ChannelError(f"{name} holds {dtype}, not numbers")
            count = 1
            for dim in shape:
                count *= int(dim)
            if count * dtype.itemsize > size:
                raise ChannelError(f"{name} is shorter than its header says")
            fh.seek(0)
            try:
                return np.load(fh, allow_pickle=False)
            except Exception as exc:
                raise ChannelError(f"{name} could not be read ({exc})") from None

    def decode(self, node, depth: int = 0):
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise ChannelError("the reply is too large or nested too deeply")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is not dict or len(node) != 1:
            raise ChannelError("malformed reply")
        ((tag, body),) = node.items()
        if tag in ("list", "tuple") and type(body) is list:
            items = [self.decode(v, depth + 1) for v in body]
            return tuple(items) if tag == "tuple" else items
        if tag == "dict" and type(body) is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise ChannelError("malformed dict in the reply")
                key = self.decode(pair[0], depth + 1)
                if not isinstance(key, (str, int, float, bool, tuple)) and key is not None:
                    raise ChannelError("a dict key in the reply is not a plain value")
                out[key] = self.decode(pair[1], depth + 1)
            return out
        if tag == "array":
            return self.array(body)
        if tag == "handle" and type(body) is int:
            return Handle(body)
        if tag == "ref" and type(body) is str:
            return Ref(body)
        if tag == "model" and type(body) is dict and set(body) == {"config", "weights"}:
            if type(body["config"]) is not dict or type(body["weights"]) is not list:
                raise ChannelError("malformed model in the reply")
            weights = [
                self.array(w["array"]) if type(w) is dict and set(w) == {"array"} else None for w in body["weights"]
            ]
            if any(w is None for w in weights):
                raise ChannelError("malformed model weights in the reply")
            self.nodes += _count(body["config"])
            return ModelData(body["config"], weights)
        raise ChannelError(f"unknown item {str(tag)[:20]!r} in the reply")


def _count(node, depth: int = 0) -> int:
    if depth > MAX_DEPTH:
        raise ChannelError("the model config is nested too deeply")
    if isinstance(node, dict):
        return 1 + sum(_count(v, depth + 1) for v in node.values())
    if isinstance(node, list):
        return 1 + sum(_count(v, depth + 1) for v in node)
    return 1


def _parse_constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def read_fd(dir_fd: int, name: str = "value.json"):
    """Read a value from an open directory (the grader keeps the descriptor it created)."""
    fd, _ = _open_regular(dir_fd, name, MAX_JSON_BYTES)
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(MAX_JSON_BYTES + 1)
    try:
        tree = json.loads(raw.decode("utf-8"), parse_constant=_parse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ChannelError(f"{name} is not valid JSON ({exc.__class__.__name__})") from None
    return _Reader(dir_fd).decode(tree)


def read(folder: Path, name: str = "value.json"):
    """Read a value written by `write` (by anyone: it is checked as hostile input)."""
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        return read_fd(dir_fd, name)
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------- the student's side


class NotDefined(Exception):
    """A name the grader asked for does not exist in the student's process."""


def _resolve(node, namespace: dict):
    if isinstance(node, Handle):
        return _HANDLES[node.id]
    if isinstance(node, Ref):
        if node.name not in namespace:
            raise NotDefined(node.name)
        return namespace[node.name]
    if isinstance(node, list):
        return [_resolve(v, namespace) for v in node]
    if isinstance(node, tuple):
        return tuple(_resolve(v, namespace) for v in node)
    if isinstance(node, dict):
        return {k: _resolve(v, namespace) for k, v in node.items()}
    return node


def _perform(request: dict, namespace: dict):
    op = request["op"]
    target = _resolve(request.get("target"), namespace)
    if op == "define":  # a grader's driver: trusted code that uses the student's objects
        scope = {"__name__": "__course_driver__"}
        exec(compile(request["source"], "<grader driver>", "exec"), scope)
        return scope[request["name"]]
    for attr in request.get("attrs", []):
        target = getattr(target, attr)
    if op == "get":
        return target
    args = _resolve(request.get("args", []), namespace)
    kwargs = _resolve(request.get("kwargs", {}), namespace)
    return target(*args, **kwargs)


def serve(folder: str, namespace: dict) -> None:
    """Answer the request in ``folder`` (written by the grader) into ``folder/out``.

    Runs in the student's process. What the call returns is written as data; an
    exception is written as its type's name only.
    """
    out = Path(folder) / "out"
    try:
        request = read(Path(folder), "request.json")
        result = _perform(request, namespace)
        write(result, out, handles=True)
    except KeyboardInterrupt:  # the grader interrupting a call that ran out of time
        raise
    except BaseException as exc:  # noqa: BLE001 - whatever the student's code raises is its answer
        (out / "value.json").unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / "error.json").write_text(json.dumps({"dict": [["type", type(exc).__name__[:80]]]}))


# ------------------------------------------------------------- the NumPy-only process


def numpy_process(answers_file: str, requests_fd: int, replies_fd: int) -> None:
    """Run NumPy-only answers, then serve requests (one folder path a line) until EOF.

    Started by the grader in a jail where only the standard library and NumPy exist.
    The student's answers run in one namespace, in order; one that fails is recorded
    and the rest still run.
    """
    import math

    namespace = {"__name__": "__main__", "np": np, "numpy": np, "math": math}
    problems = []
    for index, source in enumerate(json.loads(Path(answers_file).read_text())):
        try:
            exec(compile(source, f"<answer {index + 1}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001
            problems.append(type(exc).__name__ + ": " + str(exc)[:200])
    replies = os.fdopen(replies_fd, "w", buffering=1)
    replies.write(json.dumps({"ready": True, "problems": problems}) + "\n")
    for line in os.fdopen(requests_fd, "r"):
        folder = line.strip()
        if folder:
            serve(folder, namespace)
            replies.write(json.dumps({"done": folder}) + "\n")


if __name__ == "__main__":
    # python -m course_lib.exchange ANSWERS.json REQUESTS_FD REPLIES_FD, with the student's
    # prints going nowhere the grader reads.
    sys.stdout = sys.stderr = open(os.devnull, "w")
    try:
        numpy_process(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    except Exception:
        traceback.print_exc()
        raise
