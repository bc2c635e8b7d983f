"""Tests for netfleet.datasets.fashion_mnist on a tiny IDX set the tests write.

No test touches the network or the real cache: an autouse fixture points the cache at a
temporary folder, unsets NETFLEET_DATA and makes urlopen fail unless a test serves bytes.
The tiny set replaces the module's table of file shapes and published checksums.
"""

import gzip
import hashlib
import io
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest

from netfleet.datasets import _download, fashion_mnist

TRAIN_COUNT, TEST_COUNT = 3, 2
SHAPES = {
    "train-images-idx3-ubyte.gz": (TRAIN_COUNT, 28, 28),
    "train-labels-idx1-ubyte.gz": (TRAIN_COUNT,),
    "t10k-images-idx3-ubyte.gz": (TEST_COUNT, 28, 28),
    "t10k-labels-idx1-ubyte.gz": (TEST_COUNT,),
}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Unsets NETFLEET_DATA, moves the cache into tmp_path and disables urlopen."""

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.delenv("NETFLEET_DATA", raising=False)
    monkeypatch.setenv("NETFLEET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path / "cache" / "fashion_mnist"


@pytest.fixture
def no_download(monkeypatch):
    """Makes any download attempt fail the test."""

    def download(*args, **kwargs):
        raise AssertionError("a local copy was expected; the loader tried to download")

    monkeypatch.setattr(_download, "download", download)


def _idx_gz(array, compresslevel=9):
    """Returns the gzip IDX file of the uint8 ``array``, as the published files are made."""
    header = struct.pack(f">{1 + array.ndim}I", 0x0800 | array.ndim, *array.shape)
    return gzip.compress(header + array.tobytes(), compresslevel=compresslevel, mtime=0)


@pytest.fixture
def tiny(monkeypatch):
    """A tiny published set: file name -> (array, .gz bytes); the module expects it."""
    rng = np.random.default_rng(0)
    files = {}
    for name, shape in SHAPES.items():
        high = 10 if len(shape) == 1 else 256
        array = rng.integers(0, high, size=shape, dtype=np.uint8)
        files[name] = (array, _idx_gz(array))
    published = {
        name: (array.shape, hashlib.sha256(data).hexdigest())
        for name, (array, data) in files.items()
    }
    monkeypatch.setattr(fashion_mnist, "_FILES", published)
    return files


def _write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (_, data) in files.items():
        (folder / name).write_bytes(data)
    return folder


def _assert_loaded(loaded, files):
    (x_train, y_train), (x_test, y_test) = loaded
    for got, name in zip((x_train, y_train, x_test, y_test), SHAPES):
        np.testing.assert_array_equal(got, files[name][0])
        assert got.dtype == np.uint8 and got.flags.writeable


def test_netfleet_data_folder_gives_keras_shapes_and_dtypes(
    tiny, tmp_path, monkeypatch, no_download
):
    _write(tmp_path / "data" / "fashion_mnist", tiny)
    monkeypatch.setenv("NETFLEET_DATA", str(tmp_path / "data"))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (TRAIN_COUNT, 28, 28) and y_train.shape == (TRAIN_COUNT,)
    assert x_test.shape == (TEST_COUNT, 28, 28) and y_test.shape == (TEST_COUNT,)
    _assert_loaded(fashion_mnist.load_data(), tiny)


def test_path_may_be_the_folder_or_its_parent(tiny, tmp_path, no_download):
    folder = _write(tmp_path / "fashion_mnist", tiny)
    _assert_loaded(fashion_mnist.load_data(path=folder), tiny)
    _assert_loaded(fashion_mnist.load_data(path=str(tmp_path)), tiny)


def test_the_fashion_mnist_folder_wins_over_files_of_the_same_names_beside_it(
    tiny, tmp_path, monkeypatch, no_download
):
    mnist_like = {name: (array, _idx_gz(255 - array)) for name, (array, _) in tiny.items()}
    _write(tmp_path, mnist_like)
    _write(tmp_path / "fashion_mnist", tiny)
    monkeypatch.setenv("NETFLEET_DATA", str(tmp_path))
    _assert_loaded(fashion_mnist.load_data(), tiny)


def test_a_file_compressed_again_fails_the_checksum_of_the_published_bytes(
    tiny, tmp_path, no_download
):
    folder = _write(tmp_path / "fashion_mnist", tiny)
    array, _ = tiny["t10k-labels-idx1-ubyte.gz"]
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(_idx_gz(array, compresslevel=1))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz failed its checksum") as info:
        fashion_mnist.load_data(path=folder)
    assert "the sha256 of its bytes is" in str(info.value)
    assert fashion_mnist._FILES["t10k-labels-idx1-ubyte.gz"][1] in str(info.value)


def test_a_truncated_file_is_refused_as_truncated(tiny, tmp_path, no_download):
    folder = _write(tmp_path / "fashion_mnist", tiny)
    file = folder / "train-images-idx3-ubyte.gz"
    file.write_bytes(file.read_bytes()[:-30])
    with pytest.raises(ValueError, match="is truncated"):
        fashion_mnist.load_data(path=folder)


def test_a_file_with_other_dimensions_is_refused(tiny, tmp_path, no_download):
    folder = _write(tmp_path / "fashion_mnist", tiny)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(_idx_gz(np.zeros((2, 14, 14), np.uint8)))
    with pytest.raises(ValueError, match=r"declares shape \(2, 14, 14\) .* expected \(2, 28, 28\)"):
        fashion_mnist.load_data(path=folder)


def test_path_without_the_files_says_what_is_missing(tiny, tmp_path, no_download):
    _write(
        tmp_path / "fashion_mnist",
        {"train-images-idx3-ubyte.gz": tiny["train-images-idx3-ubyte.gz"]},
    )
    with pytest.raises(
        FileNotFoundError, match="'path' argument of fashion_mnist.load_data"
    ) as info:
        fashion_mnist.load_data(path=tmp_path)
    assert str(info.value).endswith(
        "fashion_mnist lacks train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz."
    )


def _serve(files, calls, wrong_from=()):
    """Returns a fake urlopen serving ``files``, recompressed when the URL starts with one of
    ``wrong_from`` (the same pixels, other bytes), recording the URLs asked."""

    def urlopen(url, *args, **kwargs):
        calls.append(url)
        array, data = files[url.rsplit("/", 1)[-1]]
        if url.startswith(tuple(wrong_from)):
            data = _idx_gz(array, compresslevel=1)
        return io.BytesIO(data)

    return urlopen


def test_download_fills_the_cache_once(tiny, offline, monkeypatch):
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", _serve(tiny, calls))
    _assert_loaded(fashion_mnist.load_data(), tiny)
    assert calls == [fashion_mnist.MIRRORS[0] + name for name in SHAPES]
    assert sorted(p.name for p in offline.iterdir()) == sorted(SHAPES)  # no temporary left
    calls.clear()
    _assert_loaded(fashion_mnist.load_data(), tiny)
    assert calls == []


def test_download_skips_a_mirror_whose_bytes_fail_the_checksum(tiny, offline, monkeypatch):
    calls = []
    serve = _serve(tiny, calls, wrong_from=[fashion_mnist.MIRRORS[0]])
    monkeypatch.setattr(urllib.request, "urlopen", serve)
    _assert_loaded(fashion_mnist.load_data(), tiny)
    name = "train-images-idx3-ubyte.gz"
    assert calls[:2] == [fashion_mnist.MIRRORS[0] + name, fashion_mnist.MIRRORS[1] + name]
    for name, (_, data) in tiny.items():
        assert (offline / name).read_bytes() == data


def test_offline_without_a_copy_says_where_it_looked_and_how_to_fix_it(offline):
    with pytest.raises(fashion_mnist.DatasetUnavailableError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert message.startswith("Fashion-MNIST is not available")
    assert "NETFLEET_DATA (not set)" in message and str(offline) in message
    assert all(mirror in message for mirror in fashion_mnist.MIRRORS)
    assert "fashion_mnist.load_data(path=FOLDER)" in message
    assert "holds 'fashion_mnist/' with" in message
    assert not offline.exists() or not any(offline.iterdir())
