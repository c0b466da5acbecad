import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_lib import runtime


def test_mode_defaults_to_full(monkeypatch):
    monkeypatch.delenv("COURSE_MODE", raising=False)
    assert runtime.mode() == "full"
    assert runtime.by_mode(full=20, smoke=1) == 20


def test_smoke_mode_picks_small_sizes(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", " Smoke ")
    assert runtime.mode() == "smoke"
    assert runtime.by_mode(full=20, smoke=1) == 1


def test_unknown_mode_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "fast")
    with pytest.raises(ValueError, match="use one of full, smoke"):
        runtime.mode()


def test_setup_reports_where_it_runs_and_fixes_seeds(capsys):
    info = runtime.setup(seed=7)
    first = np.random.rand(3)
    assert info["seed"] == 7 and info["backend"] in ("tensorflow", "jax", "torch")
    assert info["devices"] and all(isinstance(d, str) for d in info["devices"])
    assert f"backend={info['backend']}" in capsys.readouterr().out
    runtime.setup(seed=7)
    np.testing.assert_array_equal(first, np.random.rand(3))


def test_record_prints_value_and_target_verdict(capsys):
    runtime.record("accuracy", 0.91234, target=0.9)
    out = capsys.readouterr().out
    assert "accuracy = 0.9123" in out and "target >= 0.9: met" in out
    runtime.record("accuracy", 0.5, target=0.9)
    assert "not met" in capsys.readouterr().out


def test_on_jax_compiled_programs_are_kept_on_disk(tmp_path):
    """A model rebuilt with the same shapes (or a lesson run again) compiles from the cache."""
    code = (
        "import jax, jax.numpy as jnp\n"
        "from course_lib import runtime\n"
        "runtime.cache_compilations()\n"
        "jax.jit(lambda x: jnp.tanh(x) @ x.T)(jnp.ones((8, 8))).block_until_ready()\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_COMPILATION_CACHE_DIR=str(tmp_path / "cache"))
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=Path(runtime.__file__).parent.parent)
    assert any((tmp_path / "cache").iterdir())


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    """Run code in a fresh Python (a backend is chosen once per process), from the repository."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(runtime.__file__).parent.parent,
    )


def test_setup_on_jax_leaves_tensorflow_unloaded_and_available(tmp_path):
    """Seeding makes JAX runs repeatable without importing TensorFlow (seconds and a
    gigabyte); a layer that needs TensorFlow still finds it afterwards. Random draws use
    the quick-to-compile classic threefry layout."""
    code = (
        "import sys, jax, keras\n"
        "from course_lib import runtime\n"
        "runtime.setup()\n"
        "print(jax.config.jax_threefry_partitionable)\n"
        "def draw(seed):\n"
        "    runtime.set_seeds(seed)\n"
        "    return keras.ops.convert_to_numpy(keras.random.uniform((3,))).tolist()\n"
        "assert draw(1) == draw(1) != draw(2)\n"
        "print('tensorflow' in sys.modules)\n"
        "keras.layers.TextVectorization(max_tokens=5)\n"
        "print('tensorflow' in sys.modules)\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_COMPILATION_CACHE_DIR=str(tmp_path / "cache"))
    done = _python(code, env)
    assert done.stdout.split()[-3:] == ["False", "False", "True"]


@pytest.mark.parametrize("mode, flagged", [("smoke", True), ("full", False)])
def test_smoke_runs_on_jax_compile_with_the_quicker_emitters(tmp_path, mode, flagged):
    """Only smoke mode trades run speed for compile speed, and this JAX knows the flag:
    XLA would abort the process on an unknown one at the first computation."""
    code = (
        "import os, keras\n"
        "from course_lib import runtime\n"
        "runtime.setup()\n"
        "print(float(keras.ops.sum(keras.random.uniform((4, 3)) * 0 + 1)))\n"
        "print(os.environ.get('XLA_FLAGS', ''))\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", COURSE_MODE=mode, JAX_COMPILATION_CACHE_DIR=str(tmp_path))
    env.pop("XLA_FLAGS", None)
    done = _python(code, env)
    lines = done.stdout.splitlines()
    assert lines[-2] == "12.0"
    assert (runtime.QUICK_COMPILE_FLAG in lines[-1]) == flagged


@pytest.mark.parametrize("chosen, huge", [(None, "False"), ("1", "True")])
def test_setup_keeps_numpy_on_small_pages_unless_the_user_chose(chosen, huge):
    code = (
        "from course_lib import runtime\n"
        "runtime.setup()\n"
        "from numpy._core import multiarray\n"
        "print(multiarray._set_madvise_hugepage(True))\n"  # returns the setting it replaces
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if chosen is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = chosen
    assert _python(code, env).stdout.split()[-1] == huge


@pytest.mark.parametrize("jaxlib, flagged", [("0.10.2", True), ("0.11.2", False), ("0.6.2", False)])
def test_the_flag_goes_only_to_a_jax_whose_xla_knows_it(monkeypatch, jaxlib, flagged):
    """jaxlib 0.11 aborts the process at its first computation on this flag (seen with
    0.11.2 and 0.12, the GPU image's and PyPI's newest on 2026-12-05)."""
    from importlib import metadata

    import keras

    monkeypatch.setattr(keras.config, "backend", lambda: "jax")
    monkeypatch.setattr(metadata, "version", lambda name: {"jaxlib": jaxlib}[name])
    monkeypatch.setenv("COURSE_MODE", "smoke")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    runtime.quick_compiles()
    assert (runtime.QUICK_COMPILE_FLAG in os.environ.get("XLA_FLAGS", "")) == flagged


def test_a_flag_the_user_chose_wins(monkeypatch):
    import keras

    monkeypatch.setattr(keras.config, "backend", lambda: "jax")
    monkeypatch.setenv("COURSE_MODE", "smoke")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_fusion_emitters=true")
    runtime.quick_compiles()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_use_fusion_emitters=true"


def test_on_tensorflow_arrays_reach_fit_without_the_autotuner(monkeypatch):
    """The same batches in the same order, from a pipeline whose autotuner is off."""
    import keras

    if keras.config.backend() != "tensorflow":
        pytest.skip("Keras feeds arrays through tf.data on TensorFlow only")
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    keras_own = getattr(ArrayDataAdapter.get_tf_dataset, "__wrapped__", ArrayDataAdapter.get_tf_dataset)
    monkeypatch.setattr(ArrayDataAdapter, "get_tf_dataset", keras_own)  # as before any setup()
    x, y = np.arange(40.0).reshape(20, 2), np.arange(20)

    def batches():
        keras.utils.set_random_seed(3)
        dataset = ArrayDataAdapter(x, y, batch_size=8, shuffle=True).get_tf_dataset()
        return dataset, [b[1].numpy().tolist() for b in dataset]

    tuned, expected = batches()
    runtime.untuned_array_input()
    runtime.untuned_array_input()  # a second setup() does not wrap it twice
    assert ArrayDataAdapter.get_tf_dataset.__wrapped__ is keras_own
    untuned, got = batches()
    assert tuned.options().autotune.enabled is not False and untuned.options().autotune.enabled is False
    assert got == expected and sorted(sum(got, [])) == list(range(20))


@pytest.mark.parametrize("backend, expected", [("tensorflow", 16), ("jax", 16), ("torch", 1)])
def test_steps_per_execution_is_one_where_the_backend_allows_no_other(monkeypatch, backend, expected):
    import keras

    monkeypatch.setattr(keras.config, "backend", lambda: backend)
    assert runtime.steps_per_execution(16) == expected


def test_setup_keeps_tensorflow_notices_out_of_stderr():
    """oneDNN is on, and no cell shows TensorFlow's notices about it (at start-up, or when it
    falls back to other kernels for bool tensors); other stderr lines pass."""
    code = (
        "import os\n"
        "from course_lib import runtime\n"
        "runtime.setup()\n"
        "with runtime.startup_notices_dropped():\n"
        "    os.write(2, b'oneDNN custom operations are on. Ignore me.\\nreal trouble\\n')\n"
        "import keras\n"
        "embed = keras.layers.Embedding(10, 4, mask_zero=True)\n"
        "tokens = keras.ops.convert_to_tensor([[1, 2, 0, 0]])\n"
        "keras.layers.LSTM(3)(embed(tokens), mask=embed.compute_mask(tokens))\n"
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in runtime.QUIET_ENV}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(env, KERAS_BACKEND="tensorflow"),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(runtime.__file__).parent.parent,
    )
    assert done.stdout.split()[-1] == "1"
    assert done.stderr == "real trouble\n"


def test_setup_drops_tensorflows_retracing_alarm_and_no_other_warning():
    """Models built in a loop (lesson 12's comparison) made TensorFlow warn about retracing
    in a cell's output; after setup that warning is gone and other TensorFlow warnings pass."""
    code = (
        "import logging\n"
        "from course_lib import runtime\n"
        "runtime.setup()\n"
        "runtime.setup()\n"  # a second setup() adds no second filter
        "import keras, numpy as np\n"
        "for units in range(1, 9):\n"
        "    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(units)])\n"
        "    model.predict(np.zeros((4, 2)), verbose=0)\n"
        "logging.getLogger('tensorflow').warning('a warning that matters')\n"
        "print(len(logging.getLogger('tensorflow').filters))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, KERAS_BACKEND="tensorflow"),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(runtime.__file__).parent.parent,
    )
    assert done.stdout.split()[-1] == "1"
    assert "retracing" not in done.stderr
    assert "a warning that matters" in done.stderr
