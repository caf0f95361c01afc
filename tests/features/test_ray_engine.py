"""extract --engine ray on a local Ray cluster: the default engine's store, resumed, and errors.

The cluster (two CPUs, so two actor processes besides this one) is started here and shut down
after the module; without the ``ray`` extra the module is skipped.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from typer.testing import CliRunner

from medtransfer.cli import app
from medtransfer.data.domain import Domain
from medtransfer.errors import ArtifactError
from medtransfer.features.archive import load_feature_domain
from medtransfer.features.extract import extract_features
from medtransfer.features.ray_engine import ray_feature_rows

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'medtransfer[ray]'")
pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install "
                    "'medtransfer[ray]'")

N, SIZE = 12, 32


@pytest.fixture(scope="module", autouse=True)
def _local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False)
    yield
    ray.shutdown()


def _extract(*args: str) -> str:
    result = CliRunner().invoke(app, ["extract", *args, "--image-size", str(SIZE), "--quiet",
                                      "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    return result.output


def test_ray_fills_in_a_store_with_the_default_engine_s_features(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (N, 26, 26, 3), dtype=np.uint8)
    for name, part in (("half", images[: N // 2]), ("all", images)):
        np.savez(tmp_path / f"{name}.npz", train_images=part, train_labels=np.arange(len(part)) % 2)
    store = str(tmp_path / "store")
    _extract(str(tmp_path / "half.npz"), "-o", store)  # rows a killed or earlier run left
    output = _extract(str(tmp_path / "all.npz"), "-o", store, "--engine", "ray", "--workers", "2")
    assert f"{N} rows of shard 0/1 in {store} ({N - N // 2} computed now, {N} stored)" in output
    loaded = load_feature_domain(store)
    assert list(loaded.ids) == [f"train/{k:06d}" for k in range(N)]
    np.testing.assert_array_equal(loaded.labels, np.arange(N) % 2)
    by_default = extract_features(Domain("all", "image", inputs=images, ids=loaded.ids),
                                  image_size=SIZE, cache=False, progress=False)
    np.testing.assert_allclose(loaded.inputs.to_numpy(), by_default, rtol=0, atol=1e-4)


def test_an_actor_with_other_weights_refuses_in_one_line(tmp_path):
    pending = [("d" * 64, np.zeros((20, 20), dtype=np.uint8))]
    rows = ray_feature_rows(pending, "efficientnet_lite0", weights=None, weights_sha="0" * 64,
                            size=SIZE, batch_size=2, workers=1, progress=False, label="x")
    expected = (r"^weights '.+\.safetensors' on .+ have sha256 [0-9a-f]{16}\.\.\., the "
                r"driver's 0{16}\.\.\.; every node must hold the same file$")
    with pytest.raises(ArtifactError, match=expected):
        list(rows)
