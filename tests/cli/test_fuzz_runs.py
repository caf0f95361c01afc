"""Seeded fuzzing of `predict` on damaged run folders and of `fit` on malformed .npz files:
exit 0 or 2, never a traceback, nothing written outside the output."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from medtransfer.cli import app

FIT = ["--label-col", "diagnosis", "--site-col", "dataset", "--source-site", "Cleveland",
       "--target-site", "Hungary", "--target-labels", "10", "--method", "source_only",
       "--classifier", "logreg", "-q"]


@pytest.fixture(scope="module")
def fitted_run(heart_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    result = CliRunner().invoke(app, ["fit", str(heart_csv), str(heart_csv), *FIT, "-o",
                                      str(out)])
    assert result.exit_code == 0, result.output
    return out


def _json_mutation(value, rng):
    """Replace one value somewhere in a JSON document with a value of another kind."""
    if isinstance(value, dict) and value:
        key = list(value)[int(rng.integers(len(value)))]
        return {**value, key: _json_mutation(value[key], rng)}
    if isinstance(value, list) and value:
        i = int(rng.integers(len(value)))
        return [*value[:i], _json_mutation(value[i], rng), *value[i + 1:]]
    return [None, -1, 1e308, "x", [], {}, True][int(rng.integers(7))]


def _damage(run, rng):
    """One seeded damage: bytes flipped, truncated, removed, added, or a manifest value changed
    (with the manifest's digest recomputed half of the time, as a careful attacker would)."""
    files = sorted(p for p in run.rglob("*") if p.is_file())
    victim = files[int(rng.integers(len(files)))]
    kind = int(rng.integers(5))
    if kind == 0:
        data = bytearray(victim.read_bytes())
        data[int(rng.integers(len(data)))] ^= 0xFF
        victim.write_bytes(bytes(data))
    elif kind == 1:
        victim.write_bytes(victim.read_bytes()[: int(rng.integers(len(victim.read_bytes())))])
    elif kind == 2:
        victim.unlink()
    elif kind == 3:
        (run / "model" / "extra.skops").write_bytes(rng.bytes(64))
    else:
        from medtransfer import integrity

        manifest = _json_mutation(json.loads((run / "manifest.json").read_text()), rng)
        if isinstance(manifest, dict) and rng.random() < 0.5:
            manifest = integrity.seal(manifest)
        (run / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_damaged_runs_never_give_a_traceback(runner, fitted_run, heart_csv, tmp_path, seed):
    run = tmp_path / "run"
    shutil.copytree(fitted_run, run)
    _damage(run, np.random.default_rng(seed))
    before = set(tmp_path.iterdir())
    result = runner.invoke(app, ["predict", str(run), str(heart_csv), "--site-col", "dataset",
                                 "--site", "Hungary", "-o", str(tmp_path / "p.csv")])
    assert result.exit_code in (0, 2), (result.output, result.exception)
    assert "Traceback" not in result.output
    assert set(tmp_path.iterdir()) - before <= {tmp_path / "p.csv"}
    if result.exit_code == 2:
        assert not (tmp_path / "p.csv").exists()


def _npz(rng, path):
    n = int(rng.integers(0, 12))
    shape = (n, *[int(s) for s in rng.integers(0, 12, size=int(rng.integers(1, 4)))])
    images = rng.integers(0, 255, size=shape).astype(rng.choice(["uint8", "float32", "int64"]))
    labels = rng.integers(-2, 3, size=n) * int(rng.choice([1, 2**20, 2**40]))
    arrays = {"train_images": images, "train_labels": labels}
    if rng.random() < 0.3:
        arrays = {"images": images}
    np.savez(path, **arrays)


@pytest.mark.parametrize("seed", range(10))
def test_malformed_npz_files_never_give_a_traceback(runner, tmp_path, seed):
    path = tmp_path / "d.npz"
    _npz(np.random.default_rng(seed), path)
    before = set(tmp_path.iterdir())
    result = runner.invoke(app, ["fit", str(path), str(path), "--method", "source_only", "-q",
                                 "--image-size", "16", "-o", str(tmp_path / "out")])
    assert result.exit_code in (0, 2), (result.output, result.exception)
    assert "Traceback" not in result.output
    assert set(tmp_path.iterdir()) - before <= {tmp_path / "out"}
