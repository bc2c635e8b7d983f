"""Tests for the data sets bundled as CSVs: netfleet.datasets.banknotes and .wines."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import netfleet.datasets
from netfleet.datasets import banknotes, wines

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PACKAGE_DATA = Path(netfleet.datasets.__file__).parent / "data"
SHA256 = {  # from the shared data README
    "banknotes.csv": "efd403db8c91b250e16ed31ef4224f9b388703786539f7b461f91f55b66b6b0e",
    "wines.csv": "e93557905d68b526cc0864c3cdb5da621da3aeed0d89b777e41ab15ff7b5239f",
}
CASES = [
    # module, csv, target column, X shape, class counts by label
    (banknotes, "banknotes.csv", "class", (1372, 4), {0: 762, 1: 610}),
    (wines, "wines.csv", "Class", (178, 13), {1: 59, 2: 71, 3: 48}),
]
IDS = ["banknotes", "wines"]


def test_package_reexports_each_dataset_module():
    assert netfleet.datasets.__all__ == ["banknotes", "cifar10", "fashion_mnist", "mnist", "wines"]
    for name in netfleet.datasets.__all__:
        assert getattr(netfleet.datasets, name).__name__ == f"netfleet.datasets.{name}"


@pytest.mark.parametrize("csv", sorted(SHA256))
def test_packaged_csv_is_byte_identical_to_the_published_file(csv):
    assert hashlib.sha256((PACKAGE_DATA / csv).read_bytes()).hexdigest() == SHA256[csv]


@pytest.mark.parametrize("csv", sorted(SHA256))
def test_packaged_csv_matches_the_shared_copy(csv):
    if not (SHARED_DATA / csv).is_file():
        pytest.skip(f"the shared data folder is absent: no {SHARED_DATA / csv}")
    assert (PACKAGE_DATA / csv).read_bytes() == (SHARED_DATA / csv).read_bytes()


@pytest.mark.parametrize(("module", "csv", "target", "shape", "counts"), CASES, ids=IDS)
def test_load_frame_is_the_csv_as_pandas_reads_it(module, csv, target, shape, counts):
    frame = module.load_frame()
    pd.testing.assert_frame_equal(frame, pd.read_csv(PACKAGE_DATA / csv))
    assert frame.shape == (shape[0], shape[1] + 1)
    assert target in frame.columns


def test_banknotes_frame_keeps_the_csv_column_names():
    columns = ["variace", "skewness", "curtosis", "entropy", "class"]
    assert banknotes.load_frame().columns.tolist() == columns


def test_wines_frame_starts_with_class_then_13_measurements():
    columns = wines.load_frame().columns.tolist()
    assert columns[0] == "Class" and len(columns) == 14
    assert columns[1] == "Alcohol" and columns[-1] == "Proline"


@pytest.mark.parametrize(("module", "csv", "target", "shape", "counts"), CASES, ids=IDS)
def test_load_data_returns_float64_features_and_int64_labels(module, csv, target, shape, counts):
    X, y = module.load_data()
    assert X.shape == shape and X.dtype == np.float64
    assert y.shape == (shape[0],) and y.dtype == np.int64
    frame = module.load_frame()
    np.testing.assert_array_equal(X, frame.drop(columns=target).to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(y, frame[target].to_numpy())


@pytest.mark.parametrize(("module", "csv", "target", "shape", "counts"), CASES, ids=IDS)
def test_class_counts_match_the_data_readme(module, csv, target, shape, counts):
    _, y = module.load_data()
    labels, sizes = np.unique(y, return_counts=True)
    assert dict(zip(labels.tolist(), sizes.tolist())) == counts


@pytest.mark.parametrize("module", [banknotes, wines], ids=IDS)
def test_each_load_returns_a_fresh_frame(module):
    frame = module.load_frame()
    frame.iloc[0, 0] = -999.0
    assert module.load_frame().iloc[0, 0] != -999.0
