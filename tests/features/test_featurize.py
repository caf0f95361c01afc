"""featurize_pair / featurize: the same featurisation at fit and at predict time."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from medtransfer.data.domain import Domain
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.features.backbones import create_backbone
from medtransfer.features.featurize import augmented_features, featurize, featurize_pair
from medtransfer.features.tabular import TabularEncoder
from medtransfer.params import ParameterError

HEART = "/work/shared/data/heart_disease_uci.csv"


def _site(heart: pd.DataFrame, site: str) -> Domain:
    rows = heart[heart["dataset"] == site].reset_index(drop=True)
    return Domain(
        site,
        "table",
        inputs=rows.drop(columns=["id", "dataset", "num"]),
        ids=rows["id"].astype(str).to_numpy(),
    )


def _images(n: int, seed: int, name: str) -> Domain:
    pixels = np.random.default_rng(seed).integers(0, 256, (n, 20, 20), dtype=np.uint8)
    return Domain(name, "image", inputs=pixels, ids=np.array([f"{name}{k}" for k in range(n)]))


def test_table_pair_and_replay_on_a_new_site():
    heart = pd.read_csv(HEART)
    source, target = _site(heart, "Cleveland"), _site(heart, "Hungary")
    encoder = TabularEncoder(zero_as_missing=("chol",))
    Xs, Xt, spec = featurize_pair(source, target, encoder=encoder)
    spec = json.loads(json.dumps(spec))
    assert Xs.shape == (304, len(spec["feature_names"])) and Xt.shape[0] == 293
    report = spec["encoder"]["state"]["report_"]
    assert set(report["dropped"]) == {"ca", "thal"}
    np.testing.assert_array_equal(featurize(target, spec), Xt)
    va = featurize(_site(heart, "VA Long Beach"), spec)
    assert va.shape == (200, Xs.shape[1]) and np.isfinite(va).all()
    assert encoder.get_params()["zero_as_missing"] == ("chol",)
    assert not hasattr(encoder, "report_")  # the given encoder is cloned, not fitted


def test_image_pair_and_replay(tmp_path):
    source, target = _images(3, 0, "src"), _images(2, 1, "tgt")
    Xs, Xt, spec = featurize_pair(
        source, target, image_size=32, cache_dir=tmp_path, progress=False, device="cpu"
    )
    assert Xs.shape == (3, 1280) and Xt.shape == (2, 1280)
    assert spec["backbone"] == "efficientnet_lite0" and spec["image_size"] == 32
    assert spec["weights_sha256"] == create_backbone().weights_sha256
    spec = json.loads(json.dumps(spec))
    np.testing.assert_array_equal(featurize(target, spec, cache_dir=tmp_path), Xt)


@pytest.mark.slow
def test_changed_weights_file_is_detected(tmp_path):
    weights = tmp_path / "tuned.safetensors"
    model = create_backbone("timm:resnet18", weights="random").model
    save_file(model.state_dict(), weights)
    source, target = _images(2, 2, "s"), _images(2, 3, "t")
    *_, spec = featurize_pair(
        source,
        target,
        backbone="timm:resnet18",
        weights=weights,
        image_size=32,
        cache_dir=tmp_path,
        progress=False,
    )
    assert spec["feature_dim"] == 512 and spec["weights"] == str(weights.resolve())
    with torch.no_grad():
        model.fc.bias.add_(1.0)
    save_file(model.state_dict(), weights)
    with pytest.raises(
        ArtifactError, match=r"tuned.safetensors' have sha256 .* restore the original"
    ):
        featurize(target, spec, cache_dir=tmp_path)


def test_mismatched_kinds_and_specs_are_refused():
    heart = pd.read_csv(HEART)
    table, images = _site(heart, "Cleveland"), _images(2, 4, "img")
    with pytest.raises(
        ConfigError, match=r"source 'Cleveland' holds table data but target 'img' image data"
    ):
        featurize_pair(table, images)
    with pytest.raises(ConfigError, match=r"domain 'img' holds image data but the pipeline was"):
        featurize(images, {"kind": "table", "encoder": {}})
    with pytest.raises(ArtifactError, match=r"feature spec has kind 'audio'"):
        featurize(images, {"kind": "audio"})
    other = Domain("other", "table", inputs=table.inputs.drop(columns=["ca"]), ids=table.ids)
    with pytest.raises(ConfigError, match=r"different columns \['ca'\]"):
        featurize_pair(table, other)


def test_image_only_options_on_tables_name_the_parameter():
    heart = pd.read_csv(HEART)
    source, target = _site(heart, "Cleveland"), _site(heart, "Hungary")
    with pytest.raises(ParameterError, match=r"^featurize_pair\(harmonize='reinhard'\): changes "
                       r"image pixels, but source 'Cleveland' is a table; use harmonize='none'$"):
        featurize_pair(source, target, harmonize="reinhard")
    _, _, spec = featurize_pair(source, target, harmonize="none")
    with pytest.raises(ParameterError, match=r"^augmented_features\(augment=2\): changes image "
                       r"pixels, but the data are tables; use augment=0$"):
        augmented_features(source, spec, 2, seed=0)
    with pytest.raises(ParameterError, match=r"^augmented_features\(augment=1.5\): expected an "
                       r"integer >= 0"):
        augmented_features(source, spec, 1.5, seed=0)
    assert augmented_features(source, spec, np.int64(0), seed=0) == []
