"""The data-only channel: what a student's process writes is read as hostile input."""

import json
import os

import numpy as np
import pytest

from autograder import student as trusted
from course_lib import exchange
from course_lib.exchange import ChannelError, Handle, ModelData, Ref


def test_data_round_trips_as_plain_built_in_types(tmp_path):
    value = {
        "a": [1, 2.5, True, None, "x"],
        "t": (np.int64(3), np.float32(0.5), np.bool_(False)),
        "arr": np.arange(6).reshape(2, 3),
        7: {"nested": np.ones(2, dtype=np.float32)},
    }
    exchange.write(value, tmp_path)
    back = exchange.read(tmp_path)
    assert back["a"] == [1, 2.5, True, None, "x"] and back["t"] == (3, 0.5, False)
    assert [type(v) for v in back["t"]] == [int, float, bool]
    np.testing.assert_array_equal(back["arr"], np.arange(6).reshape(2, 3))
    assert back[7]["nested"].dtype == np.float32


def test_subclasses_that_lie_cross_as_the_built_in_value(tmp_path):
    class Liar(int):
        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

        __hash__ = int.__hash__

    class Text(str):
        def __eq__(self, other):
            return True

    exchange.write([Liar(3), Text("no")], tmp_path)
    got = exchange.read(tmp_path)
    assert got == [3, "no"] and type(got[0]) is int and type(got[1]) is str
    assert got[0] != 391 and got[1] != "yes"


def test_objects_stay_behind_as_handles(tmp_path):
    exchange.write({"f": lambda x: x, "obj": object()}, tmp_path / "a", handles=True)
    got = exchange.read(tmp_path / "a")
    assert isinstance(got["f"], Handle) and isinstance(got["obj"], Handle)
    with pytest.raises(ChannelError, match="cannot cross"):
        exchange.write({"f": lambda x: x}, tmp_path / "b")  # the grader's requests hold data only


def test_object_and_string_arrays_are_refused_both_ways(tmp_path):
    with pytest.raises(ChannelError, match="only numbers"):
        exchange.write(np.array(["a", "b"]), tmp_path / "w")
    (tmp_path / "r").mkdir()
    np.save(tmp_path / "r" / "a0.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "r" / "value.json").write_text(json.dumps({"array": "a0.npy"}))
    with pytest.raises(ChannelError, match="not numbers"):
        exchange.read(tmp_path / "r")


def _reply(folder, tree, files=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "value.json").write_text(json.dumps(tree))
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize(
    "tree, files, message",
    [
        ({"array": "../../etc/passwd"}, {}, "bad array reference"),
        ({"array": "a0.npy"}, {}, "cannot be opened"),
        ({"list": [{"array": "a0.npy"}, {"array": "a0.npy"}]}, {"a0.npy": b""}, "bad array reference|not a .npy"),
        ({"pickle": "x"}, {}, "unknown item"),
        ({"list": [1], "dict": []}, {}, "malformed"),
        ({"model": {"config": [], "weights": []}}, {}, "malformed model"),
    ],
)
def test_malformed_replies_are_refused(tmp_path, tree, files, message):
    with pytest.raises(ChannelError, match=message):
        exchange.read(_reply(tmp_path / "r", tree, files))


def test_a_huge_or_deep_reply_is_refused(tmp_path, monkeypatch):
    deep = 1
    for _ in range(200):
        deep = {"list": [deep]}
    with pytest.raises(ChannelError, match="nested too deeply|not valid JSON"):
        exchange.read(_reply(tmp_path / "deep", deep))
    monkeypatch.setattr(exchange, "MAX_ARRAY_BYTES", 1000)
    folder = tmp_path / "big"
    folder.mkdir()
    np.save(folder / "a0.npy", np.zeros(1000))
    with pytest.raises(ChannelError, match="over the limit"):
        exchange.read(_reply(folder, {"array": "a0.npy"}))
    # A header that promises more than the file holds.
    header = tmp_path / "lies"
    header.mkdir()
    np.save(header / "a0.npy", np.zeros(10))
    data = (header / "a0.npy").read_bytes().replace(b"(10,)", b"(99,)")
    (header / "a0.npy").write_bytes(data)
    with pytest.raises(ChannelError, match="shorter than its header"):
        exchange.read(_reply(header, {"array": "a0.npy"}))


def test_links_fifos_and_swapped_folders_are_never_followed(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("grades of everyone")
    link = tmp_path / "link"
    link.mkdir()
    os.symlink(secret, link / "value.json")
    with pytest.raises(ChannelError, match="cannot be opened"):
        exchange.read(link)
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "value.json")
    with pytest.raises(ChannelError, match="not a regular file"):
        exchange.read(fifo)  # and it does not hang
    # The grader reads through the descriptor it opened: renaming the folder changes nothing.
    real = _reply(tmp_path / "real", {"list": [1, 2]})
    fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY)
    os.rename(real, tmp_path / "moved")
    _reply(tmp_path / "real", "forged")
    assert exchange.read_fd(fd) == [1, 2]
    os.close(fd)


def test_the_student_side_serves_a_request_and_reports_only_the_exception_type(tmp_path):
    def relu(x):
        return np.maximum(x, 0)

    def broken(x):
        raise ValueError("the hidden input was [1, 2, 3]")  # text from the student's process

    exchange.write(
        {"op": "call", "target": Ref("relu"), "attrs": [], "args": [np.array([-1.0, 2.0])], "kwargs": {}},
        tmp_path / "ok",
    )
    os.rename(tmp_path / "ok" / "value.json", tmp_path / "ok" / "request.json")
    exchange.serve(str(tmp_path / "ok"), {"relu": relu})
    np.testing.assert_array_equal(exchange.read(tmp_path / "ok" / "out"), [0.0, 2.0])
    exchange.write({"op": "call", "target": Ref("broken"), "attrs": [], "args": [1], "kwargs": {}}, tmp_path / "bad")
    os.rename(tmp_path / "bad" / "value.json", tmp_path / "bad" / "request.json")
    exchange.serve(str(tmp_path / "bad"), {"broken": broken})
    fd = os.open(tmp_path / "bad" / "out", os.O_RDONLY | os.O_DIRECTORY)
    with pytest.raises(trusted.StudentError) as err:
        trusted._reply(fd)
    assert str(err.value) == "ValueError" and "hidden input" not in str(err.value)


def _dense_model_data(units=3):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="relu")])
    return model, ModelData(json.loads(model.to_json()), [np.asarray(w) for w in model.get_weights()])


def test_a_model_is_rebuilt_from_built_in_layers_with_its_weights():
    import keras

    model, data = _dense_model_data()
    rebuilt = trusted.rebuild(data)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rebuilt(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6)
    assert rebuilt.count_params() == model.count_params()


def test_hostile_models_are_refused():
    import keras

    lam = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    with pytest.raises(ChannelError, match="could not be rebuilt"):
        trusted.rebuild(ModelData(json.loads(lam.to_json()), []))
    _, data = _dense_model_data()
    custom = json.loads(
        json.dumps(data.config).replace(
            '"module": "keras.layers", "class_name": "Dense"', '"module": "os", "class_name": "system"'
        )
    )
    with pytest.raises(ChannelError, match="could not be rebuilt"):
        trusted.rebuild(ModelData(custom, data.weights))
    with pytest.raises(ChannelError, match="do not fit"):
        trusted.rebuild(ModelData(data.config, [np.zeros((9, 9))]))
    huge = json.loads(json.dumps(data.config).replace('"units": 3', '"units": 100000000'))
    with pytest.raises(ChannelError, match="more than|could not be rebuilt"):
        trusted.rebuild(ModelData(huge, data.weights))
    with pytest.raises(ChannelError, match="not a Keras model"):
        trusted.rebuild([1, 2, 3])
