"""course_lib.datasets and the modules behind it: the real offline datasets, and every other path on
small files made here."""

import dataclasses
import gzip
import hashlib
import http.server
import io
import pickle
import re
import shutil
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from course_lib import datasets, formats, photos, sources


@pytest.fixture(autouse=True)
def isolated_places(tmp_path, monkeypatch):
    """Each test gets an empty data dir and Keras cache."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_mnist_npz(n_train=40, n_test=10) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(
        buf,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train, dtype=np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test, dtype=np.uint8),
    )
    return buf.getvalue()


def _with_file(monkeypatch, name, data: bytes, url="http://127.0.0.1:9/unused") -> datasets.Dataset:
    """Point a registry entry's single file at test-made bytes (same file name, new hash and URL)."""
    spec = datasets.REGISTRY[name]
    f = dataclasses.replace(spec.files[0], url=url, sha256=_sha(data))
    patched = dataclasses.replace(spec, files=(f,))
    monkeypatch.setitem(datasets.REGISTRY, name, patched)
    return patched


@pytest.fixture
def server(tmp_path):
    """A static file server on the loopback interface; yields (folder, base_url)."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(folder), **kw)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


# ------------------------------------------------------------------ the real datasets


def test_registry_pins_every_download():
    for spec in datasets.REGISTRY.values():
        for f in spec.files:
            assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), f.name
            assert f.url.startswith("https://"), f.url


def test_fashion_mnist_from_the_debian_package():
    assert "dataset-fashion-mnist" in datasets.available("fashion_mnist")
    (x_train, y_train), (x_test, y_test) = datasets.load("fashion_mnist", smoke=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and set(np.unique(y_test)) == set(range(10))
    assert np.bincount(y_train).tolist() == [6000] * 10


def test_smoke_mode_returns_a_fixed_subset(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "smoke")
    (x_train, y_train), (x_test, _) = datasets.load("fashion_mnist")
    assert len(x_train) == len(y_train) == datasets.SMOKE_SIZES["train"]
    assert len(x_test) == datasets.SMOKE_SIZES["test"]
    (full_train, _), _ = datasets.load("fashion_mnist", smoke=False)
    np.testing.assert_array_equal(x_train, full_train[: len(x_train)])


def test_opencv_digits_sheet():
    (x_train, y_train), (x_test, y_test) = datasets.load("opencv_digits", smoke=False)
    assert x_train.shape == x_test.shape == (2500, 20, 20)
    assert np.bincount(y_train).tolist() == [250] * 10
    # The first cell of the sheet is a zero, the last a nine.
    assert y_train[0] == 0 and y_test[-1] == 9


def test_sklearn_digits_is_builtin():
    (x_train, y_train), (x_test, y_test) = datasets.load("sklearn_digits", smoke=False)
    assert x_train.shape[1:] == (8, 8) and len(x_train) + len(x_test) == 1797
    assert datasets.available("sklearn_digits") == "ships inside scikit-learn"


# ------------------------------------------------------- finding, checking, fetching


def test_missing_dataset_names_the_commands_that_provision_it(monkeypatch):
    spec = datasets.REGISTRY["fashion_mnist"]
    monkeypatch.setitem(datasets.REGISTRY, "fashion_mnist", dataclasses.replace(spec, system_dir="/nonexistent"))
    assert datasets.available("fashion_mnist") is None
    with pytest.raises(datasets.DataError) as err:
        datasets.load("fashion_mnist")
    text = str(err.value)
    assert "sudo apt-get install dataset-fashion-mnist" in text
    assert "course data fetch fashion_mnist" in text
    assert "train-images-idx3-ubyte.gz" in text


def test_unknown_dataset():
    with pytest.raises(datasets.DataError, match="unknown dataset 'mnist2'"):
        datasets.load("mnist2")


def test_data_dir_comes_before_the_keras_cache(tmp_path, monkeypatch):
    data = _fake_mnist_npz()
    _with_file(monkeypatch, "mnist", data)
    cached = tmp_path / "keras" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(data)
    assert datasets.available("mnist").startswith("keras cache")
    (x_train, _), (x_test, _) = datasets.load("mnist", smoke=False)
    assert x_train.shape == (40, 28, 28) and x_test.shape == (10, 28, 28)
    local = tmp_path / "data" / "mnist" / "mnist.npz"
    local.parent.mkdir(parents=True)
    local.write_bytes(data)
    assert datasets.available("mnist").startswith("data dir")


def test_damaged_file_is_refused_with_the_fix(tmp_path, monkeypatch):
    _with_file(monkeypatch, "mnist", _fake_mnist_npz())
    bad = tmp_path / "data" / "mnist" / "mnist.npz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the real file")
    with pytest.raises(datasets.DataError, match=r"damaged.*course data fetch mnist --force"):
        datasets.load("mnist")


def test_fetch_downloads_verifies_and_then_loads(server, monkeypatch, tmp_path):
    folder, base = server
    data = _fake_mnist_npz()
    (folder / "mnist.npz").write_bytes(data)
    _with_file(monkeypatch, "mnist", data, url=f"{base}/mnist.npz")
    assert datasets.available("mnist") is None
    messages = []
    datasets.fetch("mnist", log=messages.append)
    assert (tmp_path / "data" / "mnist" / "mnist.npz").read_bytes() == data
    assert any("downloaded and verified" in m for m in messages)
    (x_train, y_train), _ = datasets.load("mnist", smoke=True)
    assert len(x_train) == 40  # smaller than the smoke subset: all of it
    # A second fetch finds it and downloads nothing.
    messages.clear()
    datasets.fetch("mnist", log=messages.append)
    assert messages == [f"mnist: available from data dir ({tmp_path / 'data' / 'mnist'})"]


def test_fetch_rejects_a_download_with_the_wrong_hash(server, monkeypatch, tmp_path):
    folder, base = server
    (folder / "mnist.npz").write_bytes(b"tampered")
    _with_file(monkeypatch, "mnist", _fake_mnist_npz(), url=f"{base}/mnist.npz")
    with pytest.raises(datasets.DataError, match="sha256 of its file is .* not the pinned"):
        datasets.fetch("mnist", log=lambda m: None)
    target = tmp_path / "data" / "mnist"
    assert not any(target.iterdir()), "a rejected download must leave nothing behind"


def test_fetch_offline_is_a_clear_error(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _with_file(monkeypatch, "mnist", b"x", url=f"http://127.0.0.1:{port}/mnist.npz")
    with pytest.raises(datasets.DataError, match=r"download of .* failed.*copy mnist.npz into"):
        datasets.fetch("mnist", log=lambda m: None)


# --------------------------------------------------------------- parsers on tiny files


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_idx_parser_and_a_truncated_file(tmp_path):
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    good = tmp_path / "train-images-idx3-ubyte.gz"
    good.write_bytes(_idx(images))
    np.testing.assert_array_equal(formats.read_idx(good), images)
    bad = tmp_path / "bad.gz"
    bad.write_bytes(_idx(images)[:-3])
    with pytest.raises((ValueError, EOFError)):
        formats.read_idx(bad)


def _tiny_cifar10(monkeypatch, tmp_path) -> Path:
    """Point cifar10 at a tiny archive (4 images per batch) put in the data dir; return its path."""
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = pickle.dumps({b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(batch)
            tar.addfile(info, io.BytesIO(batch))
    data = buf.getvalue()
    _with_file(monkeypatch, "cifar10", data)
    target = tmp_path / "data" / "cifar10" / "cifar-10-python.tar.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    return target


def _tiny_imdb(monkeypatch, tmp_path, seqs=([1, 5, 20], [7]), labels=(1, 0)) -> None:
    """Point imdb at a tiny imdb.npz in the data dir (the same reviews for training and test)."""
    x = np.empty(len(seqs), dtype=object)
    x[:] = [list(s) for s in seqs]
    buf = io.BytesIO()
    np.savez(buf, x_train=x, y_train=np.array(labels), x_test=x, y_test=np.array(labels[::-1]))
    data = buf.getvalue()
    _with_file(monkeypatch, "imdb", data)
    target = tmp_path / "data" / "imdb" / "imdb.npz"
    target.parent.mkdir(parents=True)
    target.write_bytes(data)


def test_cifar10_parser_reads_the_archive_without_unpacking(tmp_path, monkeypatch):
    _tiny_cifar10(monkeypatch, tmp_path)
    (x_train, y_train), (x_test, y_test) = datasets.load("cifar10", smoke=False)
    assert x_train.shape == (20, 32, 32, 3) and x_test.shape == (4, 32, 32, 3)
    assert y_train.tolist() == [0, 1, 2, 3] * 5


def test_imdb_parser_matches_keras_conventions(tmp_path, monkeypatch):
    _tiny_imdb(monkeypatch, tmp_path)
    (x_train, y_train), _ = datasets.load("imdb", smoke=False)
    assert list(x_train[0]) == [1, 4, 8, 23] and list(x_train[1]) == [1, 10]  # start 1, index_from 3
    (x_small, _), _ = datasets.load("imdb", smoke=False, num_words=9)
    assert list(x_small[0]) == [1, 4, 8, 2]  # words beyond num_words become OOV (2)
    assert y_train.tolist() == [1, 0]


def test_imdb_smoke_subset_keeps_word_lists(tmp_path, monkeypatch):
    """What lesson 11 does with IMDB: a smoke-sized subset of word-index lists, ready to pad."""
    n = datasets.SMOKE_SIZES["train"] + 5
    seqs = np.empty(n, dtype=object)
    seqs[:] = [[i % 7, 3, 50 + i % 11] for i in range(n)]
    buf = io.BytesIO()
    np.savez(buf, x_train=seqs, y_train=np.arange(n) % 2, x_test=seqs, y_test=np.arange(n) % 2)
    data = buf.getvalue()
    _with_file(monkeypatch, "imdb", data)
    target = tmp_path / "data" / "imdb" / "imdb.npz"
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    (x_train, y_train), (x_test, y_test) = datasets.load("imdb", smoke=True, num_words=20)
    assert len(x_train) == len(y_train) == datasets.SMOKE_SIZES["train"]
    assert len(x_test) == datasets.SMOKE_SIZES["test"]
    assert list(x_train[1]) == [1, 4, 6, 2] and y_train[:3].tolist() == [0, 1, 0]
    assert max(max(s) for s in x_train) < 20


# ------------------------------------------- stand-ins for data too large to ship


def test_cifar10_stand_in_where_it_is_absent_and_the_real_data_where_it_is_present(tmp_path, monkeypatch):
    """Lesson 09's section 9 runs the same code with or without CIFAR-10; `load` says which it got."""
    with pytest.raises(datasets.DataError, match="course data fetch cifar10"):
        datasets.load("cifar10", smoke=False)  # without the flag, missing data is an error as ever
    messages = []
    (x_train, y_train), (x_test, y_test) = datasets.load(
        "cifar10", smoke=False, allow_stand_in=True, log=messages.append
    )
    (patches, patch_labels), _ = datasets.load("photo_patches", smoke=False)
    assert x_train.shape == (3000, 32, 32, 3) and x_test.shape == (1000, 32, 32, 3) and x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, patches)
    np.testing.assert_array_equal(y_train, patch_labels)
    assert len(messages) == 1 and "cifar10 is not available here" in messages[0]
    assert "photo patches" in messages[0] and "course data fetch cifar10" in messages[0]

    _tiny_cifar10(monkeypatch, tmp_path)
    for mode in ("full", "smoke"):  # the real data wherever it is found, in every mode
        monkeypatch.setenv("COURSE_MODE", mode)
        messages.clear()
        (x_train, y_train), (x_test, _) = datasets.load("cifar10", allow_stand_in=True, log=messages.append)
        assert x_train.shape == (20, 32, 32, 3) and x_test.shape == (4, 32, 32, 3), mode
        assert y_train.tolist() == [0, 1, 2, 3] * 5, mode
        assert messages == [f"cifar10: the real data, from data dir ({tmp_path / 'data' / 'cifar10'})"], mode


def test_a_damaged_copy_is_an_error_not_a_reason_for_the_stand_in(tmp_path, monkeypatch):
    _tiny_cifar10(monkeypatch, tmp_path).write_bytes(b"half a download")
    with pytest.raises(datasets.DataError, match=r"damaged.*course data fetch cifar10 --force"):
        datasets.load("cifar10", allow_stand_in=True, log=lambda m: None)


def test_imdb_stand_in_is_two_fortune_topics_in_imdbs_encoding(tmp_path, monkeypatch):
    messages = []
    (x_train, y_train), (x_test, y_test) = datasets.load(
        "imdb", smoke=False, num_words=500, allow_stand_in=True, log=messages.append
    )
    assert "imdb is not available here" in messages[0] and "course data fetch imdb" in messages[0]
    (texts, topics), _ = datasets.load("fortunes", smoke=False, categories=datasets.IMDB_STAND_IN_TOPICS)
    assert len(x_train) == len(texts) == 1225 and len(x_test) == 407
    np.testing.assert_array_equal(y_train, topics)
    assert set(y_train.tolist()) == set(y_test.tolist()) == {0, 1}
    assert all(seq[0] == 1 and 2 <= min(seq[1:], default=2) and max(seq) < 500 for seq in x_train)
    # Word indices as keras.datasets.imdb gives them: rank by count in the training texts, plus 3.
    first = re.findall(r"[a-z0-9']+", texts[0].lower())
    counts = {}
    for text in texts:
        for word in re.findall(r"[a-z0-9']+", text.lower()):
            counts[word] = counts.get(word, 0) + 1
    rank = {w: r for r, w in enumerate(sorted(counts, key=lambda w: (-counts[w], w)), start=1)}
    assert x_train[0] == [1] + [rank[w] + 3 if rank[w] + 3 < 500 else 2 for w in first]
    assert sorted(counts, key=lambda w: (-counts[w], w))[0] == "the"

    _tiny_imdb(monkeypatch, tmp_path)
    monkeypatch.setenv("COURSE_MODE", "full")
    (x_real, y_real), _ = datasets.load("imdb", num_words=9, allow_stand_in=True, log=messages.append)
    assert list(x_real[0]) == [1, 4, 8, 2] and y_real.tolist() == [1, 0]
    assert messages[-1].startswith("imdb: the real data, from data dir")


def test_only_datasets_with_a_stand_in_take_the_flag():
    with pytest.raises(datasets.DataError, match="no stand-in"):
        datasets.load("fashion_mnist", allow_stand_in=True)
    for spec in datasets.REGISTRY.values():
        if spec.stand_in is not None:
            assert (
                spec.stand_in.dataset in datasets.REGISTRY and datasets.REGISTRY[spec.stand_in.dataset].stand_in is None
            )


# ----------------------------------------------------------- fortunes and time series


def test_fortunes_from_the_debian_package():
    assert "fortunes" in datasets.available("fortunes")
    (x_train, y_train), (x_test, y_test) = datasets.load("fortunes", smoke=False)
    assert len(x_train) == 2220 and len(x_test) == 738
    assert np.bincount(y_train).tolist() == [789, 435, 528, 468]  # FORTUNE_CATEGORIES order
    assert np.bincount(y_test).tolist() == [262, 145, 175, 156]
    assert not set(x_train) & set(x_test)
    assert all(isinstance(t, str) and t.strip() and "\n%\n" not in t for t in x_train)
    (again, _), _ = datasets.load("fortunes", smoke=False)
    assert list(again) == list(x_train)  # the split is fixed
    (x_two, y_two), _ = datasets.load("fortunes", smoke=False, categories=("sports", "food"))
    assert set(y_two.tolist()) == {0, 1} and len(x_two) < 400


def _with_fortune_files(monkeypatch, tmp_path, files: dict[str, str]) -> None:
    """Replace the fortunes registry entry by test-made topic files in the data dir."""
    spec = datasets.REGISTRY["fortunes"]
    folder = tmp_path / "data" / "fortunes"
    folder.mkdir(parents=True)
    made = []
    for name, text in files.items():
        data = text.encode("utf-8")
        (folder / name).write_bytes(data)
        made.append(datasets.DataFile(name, f"https://example.invalid/{name}", _sha(data)))
    monkeypatch.setitem(datasets.REGISTRY, "fortunes", dataclasses.replace(spec, files=tuple(made)))


def test_fortunes_parser_splits_each_topic_three_to_one(tmp_path, monkeypatch):
    computers = "".join(f"Computer joke number {i}.\n\t\t-- someone\n%\n" for i in range(8))
    computers += "A repeated line.\n%\nA repeated line.\n%\nShared by two topics.\n%\n"
    science = "Line one\nline two of an entry\n%\n" + "".join(f"Atom {i}\n%\n" for i in range(7))
    science += "Shared by two topics.\n"  # the last entry needs no closing '%'
    _with_fortune_files(monkeypatch, tmp_path, {"computers": computers, "science": science})
    (x_train, y_train), (x_test, y_test) = datasets.load("fortunes", smoke=False, categories=("science", "computers"))
    texts = list(x_train) + list(x_test)
    labels = y_train.tolist() + y_test.tolist()
    assert "Shared by two topics." not in texts  # ambiguous label: dropped
    assert texts.count("A repeated line.") == 1
    assert "Line one\nline two of an entry" in texts
    assert "Computer joke number 3.\n\t\t-- someone" in texts
    assert labels.count(0) == 8 and labels.count(1) == 9  # science is label 0: the order asked for
    assert np.bincount(y_test).tolist() == [2, 2]  # every fourth entry of each topic
    with pytest.raises(datasets.DataError, match="categories must be"):
        datasets.load("fortunes", smoke=False, categories=("science", "astrology"))
    with pytest.raises(datasets.DataError, match="categories must be"):
        datasets.load("fortunes", smoke=False, categories=("science",))


def test_series_from_statsmodels():
    lengths = {"sunspots": 309, "co2": 2284, "nile": 100, "elnino": 732}
    for name, n in lengths.items():
        values, index = datasets.series(name)
        assert values.shape == index.shape == (n,), name
        assert values.dtype == np.float64 and np.isfinite(values).all(), name
        assert (np.diff(index).astype(np.int64) > 0).all(), name  # strictly increasing
    values, years = datasets.series("sunspots")
    assert years[0] == 1700 and years[-1] == 2008 and values[:3].tolist() == [5.0, 11.0, 16.0]
    co2, weeks = datasets.series("co2")
    assert str(weeks[0]) == "1958-03-29" and 310 < co2.min() < co2.max() < 380
    _, months = datasets.series("elnino")
    assert str(months[0]) == "1950-01" and str(months[-1]) == "2010-12"
    with pytest.raises(datasets.DataError, match="unknown series"):
        datasets.series("dow_jones")


def test_photos_are_real_images_in_both_forms():
    colour = datasets.photo("astronaut")
    grey = datasets.photo("astronaut", grey=True)
    assert colour.shape == (512, 512, 3) and colour.dtype == np.uint8
    assert grey.shape == (512, 512) and grey.dtype == np.uint8
    assert colour.std() > 20  # a photograph, not a blank
    assert datasets.photo("camera").shape == (512, 512, 3)  # grey source, RGB on request
    assert "coffee" in datasets.photos()


def test_opencv_photo_is_rgb_and_unknown_names_are_refused():
    import cv2

    fruits = datasets.photo("fruits.jpg")  # make test installs opencv-doc; elsewhere a DataError fails here
    as_read = cv2.imread(str(photos._opencv_photo_path("fruits.jpg")), cv2.IMREAD_COLOR)
    assert fruits.ndim == 3 and fruits.shape[2] == 3
    assert np.array_equal(fruits, as_read[:, :, ::-1]) and not np.array_equal(fruits, as_read), "RGB, not BGR"
    with pytest.raises(datasets.DataError, match="unknown photo"):
        datasets.photo("../etc/passwd")
    with pytest.raises(datasets.DataError, match="opencv-doc"):
        datasets.photo("not-there.jpg")
    with pytest.raises(datasets.DataError, match="unknown photo"):
        datasets.photo(".hidden.jpg")


def test_photo_patches_from_the_installed_photos():
    assert "opencv-doc" in datasets.available("photo_patches")
    (x_train, y_train), (x_test, y_test) = datasets.load("photo_patches", smoke=False)
    assert x_train.shape == (3000, 32, 32, 3) and x_test.shape == (1000, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [300] * 10 and np.bincount(y_test).tolist() == [100] * 10
    assert len(datasets.PHOTO_PATCH_CLASSES) == len(datasets.PHOTO_PATCH_SOURCES) == 10
    assert x_test.std() > 20  # real photographs, not blanks
    assert len(set(y_train[:50].tolist())) > 5  # shuffled: a prefix mixes the photos
    (again_x, again_y), _ = datasets.load("photo_patches", smoke=True)  # deterministic, and small enough for smoke
    np.testing.assert_array_equal(again_x, x_train)
    np.testing.assert_array_equal(again_y, y_train)


def test_photo_patches_split_never_shares_a_pixel():
    """Photos whose pixels encode their own coordinates: no position is in both splits."""

    def coordinates(name, grey=False):
        rows, cols = np.mgrid[0:24, 0:24]
        return np.stack([rows, cols, np.full_like(rows, 7)], axis=-1).astype(np.uint8)

    images = [coordinates(name) for name in datasets.PHOTO_PATCH_SOURCES]
    (x_train, y_train), (x_test, y_test) = formats.cut_photo_patches(images, patch=2)  # 24 x 24, blocks of 6
    assert x_train.shape == (10 * 12 * 25, 2, 2, 3) and x_test.shape == (10 * 4 * 25, 2, 2, 3)
    seen = {
        split: {(int(r), int(c)) for r, c in x[..., :2].reshape(-1, 2)}
        for split, x in (("train", x_train), ("test", x_test))
    }
    assert not seen["train"] & seen["test"]
    assert len(seen["train"]) + len(seen["test"]) == 24 * 24
    test_blocks = {(r // 6, c // 6) for r, c in seen["test"]}
    assert test_blocks == datasets.PHOTO_PATCH_TEST_BLOCKS
    with pytest.raises(ValueError, match="even"):
        formats.cut_photo_patches(images, patch=3)


# ------------------------------------------- verified by content, whoever compressed it


def _tiny_fashion(monkeypatch) -> dict[str, bytes]:
    """Point fashion_mnist at tiny IDX files pinned by content; return {file name: raw IDX bytes}."""
    rng = np.random.default_rng(3)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(6) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.array([3, 4]),
    }
    raw = {name: gzip.decompress(_idx(a)) for name, a in arrays.items()}
    spec = datasets.REGISTRY["fashion_mnist"]
    files = tuple(dataclasses.replace(f, sha256=_sha(raw[f.name])) for f in spec.files)
    monkeypatch.setitem(
        datasets.REGISTRY, "fashion_mnist", dataclasses.replace(spec, files=files, system_dir="/nonexistent")
    )
    return raw


def test_the_real_fashion_pins_are_of_the_decompressed_idx_files():
    spec = datasets.REGISTRY["fashion_mnist"]
    for f in spec.files:
        debian = Path(spec.system_dir) / f.name
        assert f.by_content and datasets.content_sha256(debian) == f.sha256 != datasets.sha256(debian), f.name


def test_any_gzip_of_the_same_data_is_accepted_and_so_is_no_gzip(monkeypatch, tmp_path):
    raw = _tiny_fashion(monkeypatch)
    folder = tmp_path / "keras" / "datasets" / "fashion-mnist"  # where keras.datasets caches its download
    folder.mkdir(parents=True)
    for i, (name, data) in enumerate(raw.items()):
        if i == 0:
            (folder / name.removesuffix(".gz")).write_bytes(data)  # someone unpacked this one
        else:
            (folder / name).write_bytes(gzip.compress(data, compresslevel=1 + 2 * i, mtime=1_600_000_000 + i))
    assert datasets.available("fashion_mnist").startswith("keras cache")
    (x_train, y_train), (x_test, y_test) = datasets.load("fashion_mnist", smoke=False)
    assert x_train.shape == (6, 28, 28) and y_test.tolist() == [3, 4]


def test_damaged_content_is_refused_even_when_it_is_a_valid_gzip(monkeypatch, tmp_path):
    raw = _tiny_fashion(monkeypatch)
    folder = tmp_path / "data" / "fashion_mnist"
    folder.mkdir(parents=True)
    for name, data in raw.items():
        (folder / name).write_bytes(gzip.compress(data))
    flipped = bytearray(raw["t10k-labels-idx1-ubyte.gz"])
    flipped[-1] ^= 1
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(flipped)))
    with pytest.raises(
        datasets.DataError,
        match=r"t10k-labels-idx1-ubyte.gz .* is damaged.*course data fetch "
        r"fashion_mnist --force",
    ):
        datasets.load("fashion_mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw["t10k-labels-idx1-ubyte.gz"])[:-9])
    with pytest.raises(datasets.DataError, match="damaged"):
        datasets.load("fashion_mnist")


def test_a_good_copy_further_down_is_used_when_the_first_is_damaged(monkeypatch, tmp_path):
    data = _fake_mnist_npz()
    _with_file(monkeypatch, "mnist", data)
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / "mnist.npz").write_bytes(b"half a download")
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    (tmp_path / "keras" / "datasets" / "mnist.npz").write_bytes(data)
    (x_train, _), _ = datasets.load("mnist", smoke=False)
    assert len(x_train) == 40


def test_a_gzip_bomb_is_refused(monkeypatch, tmp_path):
    raw = _tiny_fashion(monkeypatch)
    monkeypatch.setattr(sources, "MAX_CONTENT_BYTES", 10_000)
    folder = tmp_path / "data" / "fashion_mnist"
    folder.mkdir(parents=True)
    for name, data in raw.items():
        (folder / name).write_bytes(gzip.compress(data if "labels" in name else data + bytes(20_000)))
    with pytest.raises(datasets.DataError, match="damaged"):
        datasets.load("fashion_mnist")
    with pytest.raises(datasets.DataError, match="decompresses to more than"):
        datasets.content_sha256(folder / "train-images-idx3-ubyte.gz")


def test_fetch_from_a_mirror_folder_or_url(monkeypatch, tmp_path, server):
    raw = _tiny_fashion(monkeypatch)
    www, base = server
    (www / "fashion_mnist").mkdir()
    for name, data in raw.items():
        (www / "fashion_mnist" / name).write_bytes(gzip.compress(data, mtime=0))
    monkeypatch.setenv("COURSE_DATA_MIRROR", base + "/")
    messages = []
    datasets.fetch("fashion_mnist", log=messages.append)
    assert (
        f"fashion_mnist: downloading t10k-images-idx3-ubyte.gz from {base}/fashion_mnist/t10k-images-idx3-ubyte.gz"
        in messages
    )
    assert datasets.load("fashion_mnist", smoke=False)[1][1].tolist() == [3, 4]
    # A folder (a USB stick) works the same, as a path or a file:// URL.
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data2"))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(www))
    datasets.fetch("fashion_mnist", log=lambda m: None)
    assert (tmp_path / "data2" / "fashion_mnist" / "train-labels-idx1-ubyte.gz").is_file()
    # A mirror without the dataset is a clear error naming the fix.
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "empty"))
    with pytest.raises(datasets.DataError, match=r"download of file://.*empty/mnist/mnist.npz failed"):
        _with_file(monkeypatch, "mnist", b"x")
        datasets.fetch("mnist", log=lambda m: None)


def test_opencv_photos_come_from_the_data_dir_without_opencv_doc(monkeypatch, tmp_path):
    source = Path(photos._OPENCV_PHOTOS_DIR) / "fruits.jpg"
    monkeypatch.setattr(photos, "_OPENCV_PHOTOS_DIR", "/nonexistent")
    spec = datasets.REGISTRY["photo_patches"]
    monkeypatch.setitem(datasets.REGISTRY, "photo_patches", dataclasses.replace(spec, system_dir="/nonexistent"))
    with pytest.raises(datasets.DataError, match="course data fetch photo_patches"):
        datasets.photo("fruits.jpg")
    (tmp_path / "data" / "photo_patches").mkdir(parents=True)
    shutil.copyfile(source, tmp_path / "data" / "photo_patches" / "fruits.jpg")
    assert datasets.photo("fruits.jpg").shape == (480, 512, 3)
    assert "fruits.jpg" in datasets.photos()
