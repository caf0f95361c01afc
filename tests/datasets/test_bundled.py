import hashlib
import shutil

import numpy as np
import pytest

import medtransfer.datasets as datasets
from medtransfer.datasets.bundled import SHA256, files_path, verify_sha256
from medtransfer.errors import ConfigError, DataError

SITES = {"Cleveland": 304, "Hungary": 293, "Switzerland": 123, "VA Long Beach": 200}
PREVALENCE = {"Cleveland": 0.46, "Hungary": 0.36, "Switzerland": 0.93, "VA Long Beach": 0.75}


def test_public_names_exist():
    assert datasets.__all__ == sorted(datasets.__all__)
    assert all(hasattr(datasets, name) for name in datasets.__all__)


@pytest.mark.parametrize("site", sorted(SITES))
def test_heart_sites_counts_and_prevalence(site):
    domain = datasets.heart_disease(site.upper())
    assert len(domain) == SITES[site] and domain.name == site
    assert domain.class_names == ("no disease", "disease")
    assert abs(domain.labels.mean() - PREVALENCE[site]) <= 0.0051  # README: 2 decimals
    assert set(domain.metadata["site"]) == {site}
    assert {"dataset", "num", "id"}.isdisjoint(domain.inputs.columns)


def test_heart_all_sites_and_grades():
    domain = datasets.heart_disease(binary=False)
    assert len(domain) == 920 and domain.class_names == ("0", "1", "2", "3", "4")
    assert domain.class_counts() == {"0": 411, "1": 265, "2": 109, "3": 107, "4": 28}
    assert domain.ids[0] == "1" and domain.inputs.shape[1] == 13


def test_heart_unknown_site_lists_the_valid_ones():
    with pytest.raises(DataError, match="valid sites: Cleveland, Hungary, Switzerland, VA Long"):
        datasets.heart_disease("Long Beach")


def test_pneumonia_splits():
    train = datasets.pneumonia()
    assert train.inputs.shape == (2428, 28, 28) and train.inputs.dtype == np.uint8
    assert train.class_counts() == {"normal": 1214, "pneumonia": 1214}
    assert len(datasets.pneumonia("val")) == 270 and len(datasets.pneumonia("test")) == 468
    everything = datasets.pneumonia(None)
    assert len(everything) == 3166 and everything.name == "pneumonia"
    with pytest.raises(DataError, match="no split 'training'; available splits"):
        datasets.pneumonia("training")


def test_files_path_checks_names_and_checksums(tmp_path):
    path = files_path("pneumoniamnist.npz")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256["pneumoniamnist.npz"]
    with pytest.raises(ConfigError, match=r"no bundled data file 'heart\.csv'; bundled files"):
        files_path("heart.csv")
    copy = tmp_path / "heart.csv"
    shutil.copy(files_path("heart_disease_uci.csv"), copy)
    verify_sha256(copy, SHA256["heart_disease_uci.csv"])
    copy.write_bytes(copy.read_bytes().replace(b"Cleveland", b"Clevelant", 1))
    with pytest.raises(DataError, match=r"does not match the published .*reinstall medtransfer"):
        verify_sha256(copy, SHA256["heart_disease_uci.csv"])


def test_attribution_sits_next_to_the_files():
    readme = (files_path("heart_disease_uci.csv").parent / "README.md").read_text()
    for name in ("heart_disease_uci.csv", "pneumoniamnist.npz"):
        assert SHA256[name] in readme
    assert readme.count("CC BY 4.0") >= 2
