"""Tests for netfleet.datasets.mnist: local copies, file checks, cache and download.

No test touches the network or the real cache: an autouse fixture points the cache at a
temporary folder, unsets NETFLEET_DATA and makes urlopen fail unless a test serves bytes.
"""

import gzip
import io
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from netfleet.datasets import _download, mnist

SHARED_MNIST = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"
SHAPES = {
    "train-images-idx3-ubyte.gz": (60000, 28, 28),
    "train-labels-idx1-ubyte.gz": (60000,),
    "t10k-images-idx3-ubyte.gz": (10000, 28, 28),
    "t10k-labels-idx1-ubyte.gz": (10000,),
}
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Unsets NETFLEET_DATA, moves the cache into tmp_path and disables urlopen."""

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.delenv("NETFLEET_DATA", raising=False)
    monkeypatch.setenv("NETFLEET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path / "cache" / "mnist"


@pytest.fixture(scope="module")
def shared_mnist():
    if not all((SHARED_MNIST / name).is_file() for name in SHAPES):
        pytest.skip(f"the shared MNIST copy is absent: no four .gz files in {SHARED_MNIST}")
    return SHARED_MNIST.resolve()


@pytest.fixture(scope="module")
def loaded(shared_mnist):
    return mnist.load_data(path=shared_mnist)


def _idx(dims, data=b"", magic=None):
    """Returns uncompressed IDX bytes: header for ``dims`` (or ``magic``) then ``data``."""
    magic = 0x0800 | len(dims) if magic is None else magic
    return struct.pack(f">{1 + len(dims)}I", magic, *dims) + data


def _write_fake_mnist(folder, make_idx):
    """Writes the four files into ``folder``, each gzip(``make_idx(shape)``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, shape in SHAPES.items():
        (folder / name).write_bytes(gzip.compress(make_idx(shape), compresslevel=1))
    return folder


def _serve(folder, calls, corrupt=False):
    """Returns a fake urlopen serving the files of ``folder``, recording the URLs asked."""

    def urlopen(url, *args, **kwargs):
        calls.append(url)
        data = (folder / url.rsplit("/", 1)[-1]).read_bytes()
        if corrupt:
            raw = bytearray(gzip.decompress(data))
            raw[-1] ^= 0xFF
            data = gzip.compress(bytes(raw), compresslevel=1)
        return io.BytesIO(data)

    return urlopen


def test_load_data_returns_keras_shapes_and_dtypes(loaded):
    (x_train, y_train), (x_test, y_test) = loaded
    assert x_train.shape == (60000, 28, 28)
    assert y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28)
    assert y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}


def test_first_training_labels_match_the_data_readme(loaded):
    (_, y_train), _ = loaded
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_label_counts_cover_every_example(loaded):
    (_, y_train), (_, y_test) = loaded
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_LABEL_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_LABEL_COUNTS
    assert sum(TRAIN_LABEL_COUNTS) == 60000 and sum(TEST_LABEL_COUNTS) == 10000


def test_pixels_span_the_uint8_range(loaded):
    (x_train, _), (x_test, _) = loaded
    assert x_train.min() == 0 and x_train.max() == 255
    assert x_test.min() == 0 and x_test.max() == 255
    assert 30 < x_train.mean() < 36  # MNIST's mean pixel is about 33.3


def test_arrays_are_writable(loaded):
    for array in (*loaded[0], *loaded[1]):
        assert array.flags.writeable and array.flags.c_contiguous


def _assert_same_data(actual, expected):
    for got, want in zip((*actual[0], *actual[1]), (*expected[0], *expected[1])):
        np.testing.assert_array_equal(got, want)


def test_path_may_be_the_parent_of_mnist(shared_mnist, loaded):
    _assert_same_data(mnist.load_data(path=str(shared_mnist.parent)), loaded)


def test_netfleet_data_names_a_folder_holding_mnist(shared_mnist, loaded, monkeypatch):
    monkeypatch.setenv("NETFLEET_DATA", str(shared_mnist.parent))
    _assert_same_data(mnist.load_data(), loaded)


def test_path_without_the_files_raises_file_not_found_listing_them(tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="'path' argument of mnist.load_data") as info:
        mnist.load_data(path=tmp_path)
    assert str(info.value).endswith(
        "mnist lacks train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz."
    )


def test_path_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match=r"'path' argument .* Got 3 of type int"):
        mnist.load_data(path=3)


def test_wrong_magic_number_raises_value_error(tmp_path):
    _write_fake_mnist(tmp_path, lambda shape: _idx(shape, magic=0x00000802))
    with pytest.raises(ValueError, match=r"magic number is 0x00000802, expected 0x0000080[13]"):
        mnist.load_data(path=tmp_path)


def test_truncated_data_raises_value_error(tmp_path):
    _write_fake_mnist(tmp_path, lambda shape: _idx(shape, bytes(100)))
    with pytest.raises(ValueError, match=r"is truncated: its header declares shape .* holds 100"):
        mnist.load_data(path=tmp_path)


def test_truncated_header_raises_value_error(tmp_path):
    _write_fake_mnist(tmp_path, lambda shape: _idx(shape)[:6])
    with pytest.raises(ValueError, match="less than its (8|16)-byte IDX header"):
        mnist.load_data(path=tmp_path)


def test_truncated_gzip_stream_raises_value_error(tmp_path):
    _write_fake_mnist(tmp_path, lambda shape: _idx(shape, bytes(np.prod(shape))))
    for file in tmp_path.iterdir():
        file.write_bytes(file.read_bytes()[:-20])
    with pytest.raises(ValueError, match="gzip stream ends before the end-of-stream marker"):
        mnist.load_data(path=tmp_path)


def test_file_that_is_not_gzip_raises_value_error(tmp_path):
    _write_fake_mnist(tmp_path, _idx)
    for file in tmp_path.iterdir():
        file.write_bytes(b"not a gzip file at all")
    with pytest.raises(ValueError, match="is not a valid gzip file"):
        mnist.load_data(path=tmp_path)


def test_wrong_dimensions_raise_value_error(tmp_path):
    _write_fake_mnist(tmp_path, lambda shape: _idx((2,) + shape[1:], bytes(100)))
    with pytest.raises(ValueError, match=r"declares shape \(2, .* expected \((6|1)0000"):
        mnist.load_data(path=tmp_path)


def test_checksum_mismatch_raises_value_error(tmp_path):
    _write_fake_mnist(tmp_path, lambda shape: _idx(shape, bytes(np.prod(shape))))
    with pytest.raises(ValueError, match="failed its checksum: the sha256 .* expected"):
        mnist.load_data(path=tmp_path)


def test_offline_without_a_copy_says_where_it_looked_and_how_to_fix_it(offline):
    with pytest.raises(mnist.DatasetUnavailableError) as info:
        mnist.load_data()
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert "NETFLEET_DATA (not set)" in message
    assert str(offline) in message
    assert all(mirror in message for mirror in mnist.MIRRORS)
    assert "network disabled in tests" in message
    assert "load_data(path=FOLDER)" in message and "NETFLEET_DATA=FOLDER" in message
    assert not offline.exists() or not any(offline.iterdir())


def test_offline_error_mentions_an_incomplete_netfleet_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NETFLEET_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(mnist.DatasetUnavailableError, match="nowhere does not exist"):
        mnist.load_data()


def test_download_fills_the_cache_once_with_verified_files(shared_mnist, offline, monkeypatch):
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", _serve(shared_mnist, calls))
    (_, y_train), _ = mnist.load_data()
    assert calls == [mnist.MIRRORS[0] + name for name in SHAPES]
    assert sorted(p.name for p in offline.iterdir()) == sorted(SHAPES)  # no temporary left
    for name in SHAPES:
        assert (offline / name).read_bytes() == (shared_mnist / name).read_bytes()
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]

    calls.clear()
    mnist.load_data()
    assert calls == []


def test_download_falls_back_to_the_next_mirror(shared_mnist, offline, monkeypatch):
    calls = []
    serve = _serve(shared_mnist, calls)

    def first_mirror_down(url, *args, **kwargs):
        if url.startswith(mnist.MIRRORS[0]):
            calls.append(url)
            raise urllib.error.URLError("mirror down")
        return serve(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", first_mirror_down)
    mnist.load_data()
    name = "train-images-idx3-ubyte.gz"
    assert calls[:2] == [mnist.MIRRORS[0] + name, mnist.MIRRORS[1] + name]
    assert sorted(p.name for p in offline.iterdir()) == sorted(SHAPES)


def test_download_rejects_corrupt_bytes_and_writes_nothing(shared_mnist, offline, monkeypatch):
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", _serve(shared_mnist, calls, corrupt=True))
    with pytest.raises(mnist.DatasetUnavailableError, match="failed its checksum") as info:
        mnist.load_data()
    assert len(calls) == len(mnist.MIRRORS)
    assert str(info.value).count("failed its checksum") == len(mnist.MIRRORS)
    assert not offline.exists() or not any(offline.iterdir())


def test_failed_write_leaves_no_partial_file(shared_mnist, offline, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _serve(shared_mnist, []))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_download.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        mnist.load_data()
    assert list(offline.iterdir()) == []
