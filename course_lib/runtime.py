"""The first cell of every lesson: run size, seeds, quiet logs, where we run.

`COURSE_MODE` is the one switch a lesson may read: ``full`` (default) is what
students run and what reaches the accuracy targets, ``smoke`` is the small run CI
executes on a 2-core CPU. Lessons ask for sizes with `by_mode` and report their key
numbers with `record`, which `course run` collects from the executed notebook.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import platform
import random
import sys
import tempfile

MODES = ("full", "smoke")
METRIC_MIME = "application/vnd.keras-course.metric+json"
SETUP_MIME = "application/vnd.keras-course.setup+json"
DEFAULT_SEED = 42


def mode() -> str:
    """The run size, from ``COURSE_MODE``: 'full' or 'smoke'."""
    value = os.environ.get("COURSE_MODE", "full").strip().lower() or "full"
    if value not in MODES:
        raise ValueError(f"COURSE_MODE={value!r} is not a mode; use one of {', '.join(MODES)}")
    return value


def by_mode(*, full, smoke):
    """Pick a size for the current mode, e.g. ``epochs = by_mode(full=20, smoke=1)``."""
    return full if mode() == "full" else smoke


QUIET_ENV = {
    # 3, not 2: on a CPU without AVX-512, oneDNN logs an ERROR-level line each time it
    # falls back to other kernels for bool or float16 tensors (masking, mixed precision),
    # which a notebook shows as an error. TensorFlow's real errors still reach Python as
    # exceptions.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # oneDNN's kernels train lesson 09's CNN 1.8x and an LSTM 1.2x faster on a
    # 2-core CPU than TensorFlow's own. Said explicitly, so a machine whose TensorFlow
    # would leave them off gets them too.
    "TF_ENABLE_ONEDNN_OPTS": "1",
}

# Lines TensorFlow writes straight to file descriptor 2 as it loads, whatever the log level.
STARTUP_NOTICES = ("oneDNN custom operations are on", "All log messages before absl::InitializeLog()")


def quiet_logs() -> None:
    """Silence TensorFlow's start-up chatter; must run before TensorFlow is imported."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def startup_notices_dropped():
    """Catch what is written to file descriptor 2 inside the block, and pass on all of it
    but ``STARTUP_NOTICES``: they bypass Python's ``sys.stderr``, so a notebook would
    show them as an error-coloured output of its first cell."""
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (a windowed Python): nothing to filter
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            kept = [line for line in lines if not any(notice in line for notice in STARTUP_NOTICES)]
            if kept:
                sys.stderr.write("".join(kept))


class _NoRetracingAlarm(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def no_retracing_alarms() -> None:
    """Drop TensorFlow's warning that calls "triggered tf.function retracing".

    Keras compiles one function per model for each of ``fit``, ``evaluate`` and
    ``predict``; a lesson that builds models in a loop (a comparison, a grid) makes a
    new one each time, which TensorFlow's heuristic reports as retracing and a notebook
    shows as an error-coloured output. It is a false alarm there. Other warnings pass.
    """
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _NoRetracingAlarm) for f in logger.filters):
        logger.addFilter(_NoRetracingAlarm())


def cache_compilations() -> None:
    """On JAX, keep compiled programs on disk (``~/.cache/keras-course/jax``, or
    ``JAX_COMPILATION_CACHE_DIR``).

    JAX compiles each new model's training, evaluation and prediction steps with XLA,
    seconds apiece on a CPU, and lessons build models of the same shapes again and again
    (a grid of settings, a model rebuilt to compare, a lesson run twice): from the cache
    such a rebuild costs a lookup. In the grading jail the home folder is the job's
    scratch folder, so no cache is shared between students.
    """
    import keras

    if keras.config.backend() != "jax":
        return
    import jax

    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras-course", "jax"
    )
    jax.config.update("jax_compilation_cache_dir", folder)
    # Small programs too: on a CPU most of a lesson's compiles are well under JAX's 1 s default.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def classic_threefry() -> None:
    """On JAX, draw random numbers with the classic layout of its threefry generator.

    Every new weight shape compiles its own random-number program: with JAX's newer
    layout (``jax_threefry_partitionable``, made to be split across many devices) that
    takes about 0.5 s on a CPU, with the classic one 0.2 s, and a lesson builds dozens of
    shapes. Training runs no slower. The numbers drawn differ, so seeded runs are
    repeatable within either layout, not across them.
    """
    import keras

    if keras.config.backend() != "jax":
        return
    import jax

    try:
        jax.config.update("jax_threefry_partitionable", False)
    except AttributeError:  # a JAX that has dropped the classic layout
        pass


def untuned_array_input() -> None:
    """On TensorFlow, feed NumPy arrays to ``fit`` without tf.data's autotuner.

    Keras turns arrays into a ``tf.data`` pipeline and starts a new iterator every
    epoch. With TensorFlow 2.21, dropping the old iterator waits for the autotuner's
    thread, which can sit out its whole optimization period first: in timed runs of
    lesson 09's CNN, 7 of 12 epochs after the first began 12-16 s late, the process idle
    all the while; with the autotuner off, none of 6. Arrays already in memory
    have nothing to tune (Keras turns the autotuner off for its ``PyDataset`` input too);
    the batches and their order are the same either way.
    """
    import keras

    if keras.config.backend() != "tensorflow":
        return
    try:
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:  # a Keras laid out otherwise: leave it as it is
        return
    tuned = ArrayDataAdapter.get_tf_dataset
    if getattr(tuned, "untuned", False):
        return

    @functools.wraps(tuned)
    def get_tf_dataset(self):
        import tensorflow as tf

        options = tf.data.Options()
        options.autotune.enabled = False
        return tuned(self).with_options(options)

    get_tf_dataset.untuned = True
    ArrayDataAdapter.get_tf_dataset = get_tf_dataset


def small_pages() -> None:
    """Keep NumPy from asking Linux for 2 MB memory pages for its large arrays.

    NumPy asks for them (``madvise``, "transparent huge pages") for every array of 4 MB or
    more, which saves the processor address translations. A virtual machine that hands
    free memory back to its host (free page reporting) pays for each 2 MB page with a
    fault in the host whenever it is used again: on the 2-core machines this course's
    results come from, turning Fashion-MNIST into float32 took 4.6 s instead of 0.15 s,
    and lesson 01 ran in 31 s instead of 22, lesson 03 in 93 s instead of 79, with the
    same numbers out. Where faults are cheap (bare metal, not measured here), small pages
    cost at most those saved translations. ``NUMPY_MADVISE_HUGEPAGE`` in the
    environment, NumPy's own switch, wins over this.
    """
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    import importlib

    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):  # NumPy 2, NumPy 1
        try:
            importlib.import_module(name)._set_madvise_hugepage(False)
            return
        except (ImportError, AttributeError):
            continue


# XLA's older CPU fusion emitters: about 30 % quicker to compile than the new ones.
QUICK_COMPILE_FLAG = "--xla_cpu_use_fusion_emitters=false"
# The jaxlib releases whose XLA knows the flag and was measured with it. XLA aborts the
# whole process on a flag it does not know, and 0.11 no longer knows this one.
QUICK_COMPILE_JAXLIB = {(0, 10)}


def quick_compiles() -> None:
    """In smoke mode on JAX, have XLA compile for the CPU with its older fusion emitters.

    A smoke run trains every model for a few batches, so on JAX most of its time goes to
    XLA compiling: 141 of 311 s for the whole course on 2 cores, 1,918 programs. The older
    emitters compile about 30 % faster; what they make runs up to 20 % slower (an MLP; a
    CNN 2 %). That is the right trade for a few batches and the wrong one for a full run,
    which keeps XLA's default. XLA reads ``XLA_FLAGS`` when JAX starts its CPU backend, so
    this must come before the first computation; a choice already in ``XLA_FLAGS`` wins.
    """
    import keras

    if keras.config.backend() != "jax" or mode() != "smoke":
        return
    from importlib import metadata

    try:  # jaxlib, JAX's compiled half, carries XLA
        release = tuple(int(part) for part in metadata.version("jaxlib").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):  # a development build: flags unknown
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if release in QUICK_COMPILE_JAXLIB and QUICK_COMPILE_FLAG.split("=")[0] not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {QUICK_COMPILE_FLAG}".strip()


def steps_per_execution(steps: int) -> int:
    """``steps`` for ``model.compile(steps_per_execution=...)``, or 1 on PyTorch, whose
    Keras backend runs one training step per call and refuses any other number."""
    import keras

    return 1 if keras.config.backend() == "torch" else steps


def set_seeds(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy and the Keras backend in one go: `keras.utils.set_random_seed`,
    but on JAX and PyTorch without loading TensorFlow.

    Keras seeds TensorFlow too whenever it is installed (for `tf.data` pipelines), and
    importing it for that costs a JAX or PyTorch lesson about 4 s and a gigabyte of
    memory, though no lesson feeds those backends through `tf.data`. Once something else
    has loaded TensorFlow (saving a model, `TextVectorization`), it is seeded as well.
    """
    import keras

    random.seed(seed)
    if keras.config.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    try:
        from keras.src.utils.module_utils import tensorflow as lazy_tensorflow
    except ImportError:  # a Keras laid out otherwise: seed as Keras does, import and all
        keras.utils.set_random_seed(seed)
        return
    # Keras asks its lazy handle whether TensorFlow is available, which imports it; say
    # "no" for this one call, then let later questions be answered for real.
    known = lazy_tensorflow.__dict__.get("_available")
    lazy_tensorflow._available = False
    try:
        keras.utils.set_random_seed(seed)
    finally:
        lazy_tensorflow._available = known


def devices() -> list[str]:
    """Accelerators and CPUs the current Keras backend can use, as readable names."""
    import keras

    backend = keras.config.backend()
    try:
        if backend == "jax":
            import jax

            return [f"{d.platform}:{d.id} ({getattr(d, 'device_kind', d.platform)})" for d in jax.devices()]
        if backend == "tensorflow":
            import tensorflow as tf

            return [f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}" for d in tf.config.list_physical_devices()]
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
            return ["cpu"]
    except Exception as exc:  # a broken driver should be reported, not crash the lesson
        return [f"unknown ({exc.__class__.__name__}: {exc})"]
    return ["cpu"]


def backend_version(backend: str) -> str:
    """The version of the library behind a Keras backend, or "not installed"."""
    import importlib

    try:
        return importlib.import_module(backend).__version__
    except ImportError:
        return "not installed"


def _configure_plots() -> None:
    import matplotlib

    # Modest resolution keeps committed notebooks and executed reports small.
    matplotlib.rcParams["figure.dpi"] = 80
    matplotlib.rcParams["savefig.dpi"] = 80
    matplotlib.rcParams["figure.figsize"] = (6.4, 4.0)


def setup(seed: int = DEFAULT_SEED) -> dict:
    """Prepare a lesson: quiet logs, NumPy on small memory pages, compiled programs
    cached, quick random-number compiles (and quick compiles in smoke mode), arrays fed
    without stalls, no retracing false alarms, fixed seeds, small plots; print and
    return where it runs."""
    quiet_logs()
    current = mode()
    with startup_notices_dropped():
        import keras
    import numpy as np

    small_pages()
    cache_compilations()
    classic_threefry()
    quick_compiles()
    untuned_array_input()
    no_retracing_alarms()
    set_seeds(seed)
    _configure_plots()
    info = {
        "mode": current,
        "backend": keras.config.backend(),
        "keras": keras.__version__,
        "backend_version": backend_version(keras.config.backend()),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "devices": devices(),
        "seed": seed,
    }
    line = (
        f"mode={info['mode']}  backend={info['backend']}  keras={info['keras']}  "
        f"seed={seed}  devices={', '.join(info['devices'])}"
    )
    _show(line, SETUP_MIME, info)
    return info


def _show(text: str, mime: str, payload: dict) -> None:
    """Display text for people plus a machine-readable copy that `course run` reads back."""
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display({"text/plain": text, mime: payload}, raw=True)
            return
    except ImportError:
        pass
    print(text)


def record(name: str, value: float, *, target: float | None = None) -> None:
    """Show a key result; `course run` collects it from the executed notebook.

    ``target`` is the full-mode goal (higher is better); smoke runs show it but are
    not held to it.
    """
    value = float(value)
    payload = {"name": name, "value": value, "target": target, "mode": mode()}
    text = f"{name} = {value:.4f}"
    if target is not None:
        met = "met" if value >= target else "not met"
        text += f"  (full-mode target >= {target}: {met})"
    _show(text, METRIC_MIME, payload)
