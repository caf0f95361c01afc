"""``medtransfer federated --fedbn``: the refusals, in one line, before any training."""

from __future__ import annotations

import pytest
from tests.tiny_images import two_class_images, write_manifest

from medtransfer.cli import app


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("sites")
    return write_manifest(root, [two_class_images(8, seed=i, name=f"h{i}") for i in (1, 2)])


@pytest.mark.parametrize(("extra", "message"), [
    (["--target-site", "h1"], "--target-site apply to tables"),
    (["--method", "coral", "--label-shift", "bbse"], "--method, --label-shift apply to tables"),
    (["--rounds", "0"], "rounds must be an integer of at least 1"),
    (["--test-fraction", "1.5"], "test_fraction must lie strictly between 0 and 1"),
])
def test_fedbn_refuses_table_flags_and_bad_settings(runner, manifest, tmp_path, extra, message):
    args = ["federated", str(manifest), "--site-col", "site", "--fedbn", "--backbone",
            "timm:test_efficientnet", "--weights", "random", "-o", str(tmp_path / "out"), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_fedbn_needs_images_and_sites(runner, manifest, heart_csv, tmp_path):
    out = ["-o", str(tmp_path / "out")]
    table = runner.invoke(app, ["federated", str(heart_csv), "--label-col", "diagnosis",
                                "--site-col", "dataset", "--fedbn", *out])
    assert table.exit_code == 2 and "fine-tunes a backbone on images" in table.output
    no_sites = runner.invoke(app, ["federated", str(manifest), "--fedbn", *out])
    assert no_sites.exit_code == 2 and "needs --site-col" in no_sites.output
    stray = runner.invoke(app, ["federated", str(heart_csv), "--share-batch-norm", *out])
    assert stray.exit_code == 2 and "--share-batch-norm goes with --fedbn" in stray.output
