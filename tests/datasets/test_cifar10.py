"""Tests for netfleet.datasets.cifar10 on tiny binary archives the tests write.

A tiny archive has the official layout (``cifar-10-batches-bin/data_batch_1.bin`` ...
``test_batch.bin``, records of a label byte and 3,072 channel-major pixel bytes) with
RECORDS records per batch; the tests set the module's batch size and published checksum to
match. No test touches the network or the real cache.
"""

import gzip
import hashlib
import io
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

from netfleet.datasets import _download, cifar10

RECORDS = 3
TRAIN = [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)]
TEST = "cifar-10-batches-bin/test_batch.bin"
ARCHIVE = "cifar-10-binary.tar.gz"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Unsets NETFLEET_DATA, moves the cache into tmp_path and disables urlopen."""

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.delenv("NETFLEET_DATA", raising=False)
    monkeypatch.setenv("NETFLEET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(cifar10, "_BATCH_RECORDS", RECORDS)
    return tmp_path / "cache" / "cifar10"


@pytest.fixture
def no_download(monkeypatch):
    """Makes any download attempt fail the test."""

    def download(*args, **kwargs):
        raise AssertionError("a local copy was expected; the loader tried to download")

    monkeypatch.setattr(_download, "download", download)


def _batch(images, labels):
    """Encodes channels-last ``images`` as records: label byte, then the R, G and B planes."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels.reshape(-1, 1), planes], axis=1).astype(np.uint8).tobytes()


def _member(name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = len(data), kind, linkname
    return info, data


def _archive(members):
    """Returns the .tar.gz bytes of ``members``, a list of ``(TarInfo, bytes)``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


@pytest.fixture
def split():
    """Random channels-last images and labels: a dict batch name -> (images, labels)."""
    rng = np.random.default_rng(0)
    return {
        name: (
            rng.integers(0, 256, size=(RECORDS, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, size=RECORDS, dtype=np.uint8),
        )
        for name in [*TRAIN, TEST]
    }


def _official_members(split):
    """The members of the official archive, in its order, with its two text files."""
    members = [_member("cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\n")]
    members += [_member(name, _batch(*split[name])) for name in [*TRAIN, TEST]]
    return members + [_member("cifar-10-batches-bin/readme.html", b"<html></html>")]


def _publish(monkeypatch, folder, data):
    """Writes the archive ``data`` into ``folder`` and makes it the published one."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ARCHIVE).write_bytes(data)
    monkeypatch.setattr(cifar10, "_SHA256", hashlib.sha256(data).hexdigest())
    return folder


def _assert_loaded(loaded, split):
    (x_train, y_train), (x_test, y_test) = loaded
    np.testing.assert_array_equal(x_train, np.concatenate([split[name][0] for name in TRAIN]))
    np.testing.assert_array_equal(y_train[:, 0], np.concatenate([split[name][1] for name in TRAIN]))
    np.testing.assert_array_equal(x_test, split[TEST][0])
    np.testing.assert_array_equal(y_test[:, 0], split[TEST][1])


def test_netfleet_data_archive_gives_keras_shapes_and_dtypes(
    split, tmp_path, monkeypatch, no_download
):
    _publish(monkeypatch, tmp_path / "data" / "cifar10", _archive(_official_members(split)))
    monkeypatch.setenv("NETFLEET_DATA", str(tmp_path / "data"))
    loaded = cifar10.load_data()
    (x_train, y_train), (x_test, y_test) = loaded
    assert x_train.shape == (5 * RECORDS, 32, 32, 3) and y_train.shape == (5 * RECORDS, 1)
    assert x_test.shape == (RECORDS, 32, 32, 3) and y_test.shape == (RECORDS, 1)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8 and array.flags.writeable and array.flags.c_contiguous
    _assert_loaded(loaded, split)


def test_records_are_channel_major_and_images_come_back_channels_last(
    split, tmp_path, monkeypatch, no_download
):
    record = np.zeros(3073, dtype=np.uint8)
    record[0] = 7  # the label
    record[1 + 0 * 1024 + 0 * 32 + 1] = 11  # red plane, row 0, column 1
    record[1 + 1 * 1024 + 2 * 32 + 0] = 22  # green plane, row 2, column 0
    record[1 + 2 * 1024 + 31 * 32 + 31] = 33  # blue plane, last pixel
    batch = np.tile(record, RECORDS).tobytes()
    members = [_member(name, batch) for name in [*TRAIN, TEST]]
    _publish(monkeypatch, tmp_path / "cifar10", _archive(members))
    (x_train, y_train), _ = cifar10.load_data(path=tmp_path)
    assert y_train[0, 0] == 7
    assert x_train[0, 0, 1, 0] == 11 and x_train[0, 2, 0, 1] == 22 and x_train[0, 31, 31, 2] == 33
    assert int(x_train[0].sum()) == 11 + 22 + 33


def test_members_may_come_in_any_order(split, tmp_path, monkeypatch, no_download):
    members = _official_members(split)[::-1]
    _publish(monkeypatch, tmp_path / "cifar10", _archive(members))
    _assert_loaded(cifar10.load_data(path=tmp_path / "cifar10"), split)


def test_other_members_are_never_written_to_disk(split, tmp_path, monkeypatch, no_download):
    escaping = [
        _member("../escaped.bin", b"x" * 10),
        _member("/tmp/absolute.bin", b"y" * 10),
        _member("cifar-10-batches-bin/link", kind=tarfile.SYMTYPE, linkname="/etc/passwd"),
    ]
    folder = _publish(
        monkeypatch, tmp_path / "data" / "cifar10", _archive(escaping + _official_members(split))
    )
    _assert_loaded(cifar10.load_data(path=folder), split)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert written == ["data", "data/cifar10", f"data/cifar10/{ARCHIVE}"]


def test_a_changed_archive_fails_the_checksum(split, tmp_path, monkeypatch, no_download):
    folder = _publish(monkeypatch, tmp_path / "cifar10", _archive(_official_members(split)))
    published = cifar10._SHA256
    (folder / ARCHIVE).write_bytes(_archive(_official_members(split)[1:]))
    with pytest.raises(ValueError, match=f"{ARCHIVE} failed its checksum") as info:
        cifar10.load_data(path=folder)
    assert f"expected {published}" in str(info.value)


def _refused(monkeypatch, tmp_path, data, match):
    folder = _publish(monkeypatch, tmp_path / "cifar10", data)
    with pytest.raises(ValueError, match=match):
        cifar10.load_data(path=folder)


def test_a_batch_of_another_size_is_refused(split, tmp_path, monkeypatch, no_download):
    members = _official_members(split)
    members[2] = _member(TRAIN[1], _batch(*split[TRAIN[1]]) + bytes(3073))
    _refused(
        monkeypatch, tmp_path, _archive(members), "data_batch_2.bin of 12292 bytes, expected 9219"
    )


def test_a_missing_batch_is_refused(split, tmp_path, monkeypatch, no_download):
    members = [m for m in _official_members(split) if m[0].name != TEST]
    _refused(monkeypatch, tmp_path, _archive(members), "lacks cifar-10-batches-bin/test_batch.bin")


def test_a_batch_given_twice_is_refused(split, tmp_path, monkeypatch, no_download):
    members = _official_members(split)
    members.append(_member(TRAIN[0], bytes(RECORDS * 3073)))
    _refused(
        monkeypatch,
        tmp_path,
        _archive(members),
        "holds cifar-10-batches-bin/data_batch_1.bin twice",
    )


def test_a_batch_that_is_a_link_is_refused(split, tmp_path, monkeypatch, no_download):
    members = _official_members(split)
    members[1] = _member(TRAIN[0], kind=tarfile.SYMTYPE, linkname="data_batch_2.bin")
    _refused(monkeypatch, tmp_path, _archive(members), "data_batch_1.bin as a link or a folder")


def test_a_truncated_archive_is_refused(split, tmp_path, monkeypatch, no_download):
    data = _archive(_official_members(split))
    _refused(monkeypatch, tmp_path, data[: len(data) // 2], "is truncated")


def test_bytes_that_are_not_gzip_are_refused(tmp_path, monkeypatch, no_download):
    _refused(monkeypatch, tmp_path, b"not an archive", "not a valid .tar.gz archive")


def test_an_uncompressed_tar_is_refused(split, tmp_path, monkeypatch, no_download):
    data = gzip.decompress(_archive(_official_members(split)))
    _refused(monkeypatch, tmp_path, data, "not a valid .tar.gz archive")


def test_a_label_outside_0_to_9_is_refused(split, tmp_path, monkeypatch, no_download):
    images, _ = split[TEST]
    members = _official_members(split)
    members[6] = _member(TEST, _batch(images, np.array([3, 12, 4])))
    _refused(monkeypatch, tmp_path, _archive(members), "test_batch.bin holds label 12 in record 1")


def test_download_fills_the_cache_once(split, offline, monkeypatch):
    data = _archive(_official_members(split))
    monkeypatch.setattr(cifar10, "_SHA256", hashlib.sha256(data).hexdigest())
    calls = []

    def urlopen(url, *args, **kwargs):
        calls.append(url)
        return io.BytesIO(data)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    _assert_loaded(cifar10.load_data(), split)
    assert calls == [cifar10.MIRRORS[0] + ARCHIVE]
    assert [p.name for p in offline.iterdir()] == [ARCHIVE]
    assert (offline / ARCHIVE).read_bytes() == data
    _assert_loaded(cifar10.load_data(), split)
    assert len(calls) == 1


def test_download_of_bytes_failing_the_checksum_writes_nothing(split, offline, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, **kwargs: io.BytesIO(b"corrupt"))
    with pytest.raises(cifar10.DatasetUnavailableError, match="failed its checksum"):
        cifar10.load_data()
    assert not offline.exists() or not any(offline.iterdir())


def test_offline_without_a_copy_says_where_it_looked_and_how_to_fix_it(offline):
    with pytest.raises(cifar10.DatasetUnavailableError) as info:
        cifar10.load_data()
    message = str(info.value)
    assert message.startswith("CIFAR-10 is not available")
    assert "NETFLEET_DATA (not set)" in message and str(offline) in message
    assert cifar10.MIRRORS[0] + ARCHIVE in message and "network disabled in tests" in message
    assert f"holds 'cifar10/' with {ARCHIVE}" in message


def test_path_of_wrong_type_raises_type_error():
    with pytest.raises(
        TypeError, match=r"'path' argument of cifar10.load_data .* Got 3 of type int"
    ):
        cifar10.load_data(path=3)
