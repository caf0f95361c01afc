"""A run folder received from another hospital: no code runs, tampering is seen, no identifiers
are stored, and every fault is one line with exit code 2 (issue 15, through the CLI)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from medtransfer import artifacts, integrity
from medtransfer.cli import app
from medtransfer.errors import ArtifactError

FIT = ["--label-col", "diagnosis", "--site-col", "dataset", "--source-site", "Cleveland",
       "--target-site", "Hungary", "--target-labels", "10", "--method", "source_only",
       "--classifier", "logreg", "-q"]


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "site.key"
    path.write_text("0123456789abcdef0123456789abcdef\n")
    return path


@pytest.fixture(scope="module")
def signed_run(heart_csv, tmp_path_factory, key_file):
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("runs") / "signed"
    result = CliRunner().invoke(
        app, ["fit", str(heart_csv), str(heart_csv), *FIT, "-o", str(out),
              "--sign-key", str(key_file)])
    assert result.exit_code == 0, result.output
    return out


def _copy(run, tmp_path, name="copy"):
    copy = tmp_path / name
    shutil.copytree(run, copy)
    return copy


def _reseal(run, manifest=None):
    """What an attacker without the key can do: recompute every hash and the digest."""
    manifest = manifest or json.loads((run / "manifest.json").read_text())
    artifacts.write_manifest(run, manifest)


def _predict(runner, run, heart_csv, tmp_path, *extra):
    out = tmp_path / "p.csv"
    return runner.invoke(app, ["predict", str(run), str(heart_csv), "--site-col", "dataset",
                               "--site", "Hungary", "-o", str(out), *extra])


@pytest.mark.slow
def test_the_issue_exploit_in_a_run_never_runs(runner, signed_run, heart_csv, tmp_path,
                                                skops_exploit):
    run = _copy(signed_run, tmp_path)
    marker = tmp_path / "pwned"
    sio.dump(skops_exploit(marker), run / "model" / "source_only.skops")
    _reseal(run)
    result = _predict(runner, run, heart_csv, tmp_path)
    assert result.exit_code == 2, result.output
    assert "never saves" in result.output and "builtins.exec" in result.output
    assert not marker.exists() and "Traceback" not in result.output


def test_an_edited_manifest_is_refused(runner, signed_run, heart_csv, tmp_path):
    run = _copy(signed_run, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    medians = manifest["features"]["encoder"]["state"]["medians_"]
    medians[next(iter(medians))] = 1e6
    (run / "manifest.json").write_text(json.dumps(manifest))
    result = _predict(runner, run, heart_csv, tmp_path)
    assert result.exit_code == 2 and "edited after it was written" in result.output
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("extra", ["evil.txt", "sub/x.skops", "model/extra.skops"])
def test_unlisted_files_are_refused(runner, signed_run, heart_csv, tmp_path, extra):
    run = _copy(signed_run, tmp_path)
    (run / extra).parent.mkdir(parents=True, exist_ok=True)
    (run / extra).write_text("x")
    result = _predict(runner, run, heart_csv, tmp_path)
    assert result.exit_code == 2 and "does not list" in result.output and extra in result.output


def test_a_listed_path_outside_the_run_is_refused(signed_run, tmp_path):
    run = _copy(signed_run, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"]["../outside.txt"] = "0" * 64
    (run / "manifest.json").write_text(json.dumps(integrity.seal(manifest)))
    with pytest.raises(ArtifactError, match="not a path inside the run"):
        artifacts.read_manifest(run)


def test_the_signature_proves_the_sender(runner, signed_run, tmp_path, key_file):
    ok = runner.invoke(app, ["verify", str(signed_run), "--verify-key", str(key_file)])
    assert ok.exit_code == 0 and "signed and verified" in ok.output, ok.output
    other = tmp_path / "other.key"
    other.write_text("f" * 32)
    bad = runner.invoke(app, ["verify", str(signed_run), "--verify-key", str(other)])
    assert bad.exit_code == 2 and "does not match the given key" in bad.output
    run = _copy(signed_run, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["chosen_method"] = "coral"
    (run / "manifest.json").write_text(json.dumps(integrity.seal(manifest)))  # digest redone
    forged = runner.invoke(app, ["verify", str(run), "--verify-key", str(key_file)])
    assert forged.exit_code == 2 and "is not signed" in forged.output
    plain = runner.invoke(app, ["verify", str(signed_run)])
    assert plain.exit_code == 0 and "signed (key not given)" in plain.output


def test_keygen_writes_a_usable_secret_key(runner, tmp_path):
    out = tmp_path / "k.key"
    result = runner.invoke(app, ["keygen", "-o", str(out)])
    assert result.exit_code == 0 and len(integrity.read_key(out)) == 64
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    again = runner.invoke(app, ["keygen", "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: [m], "not a medtransfer manifest"),
    (lambda m: {k: v for k, v in m.items() if k != "pipeline"}, "'pipeline' is missing"),
    (lambda m: {**m, "class_names": ["disease"]}, "at least two class names"),
    (lambda m: {**m, "pipeline": {**m["pipeline"], "evil": 1}}, "unknown settings"),
    (lambda m: {**m, "chosen_classifier": "evil"}, "'evil' is not registered"),
])
def test_malformed_manifests_are_one_line(runner, signed_run, heart_csv, tmp_path, edit,
                                          message):
    run = _copy(signed_run, tmp_path)
    manifest = edit(json.loads((run / "manifest.json").read_text()))
    if isinstance(manifest, dict):
        manifest = integrity.seal(manifest)
    (run / "manifest.json").write_text(json.dumps(manifest))
    result = _predict(runner, run, heart_csv, tmp_path)
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_predict_onto_a_folder_is_refused_even_with_force(runner, signed_run, heart_csv,
                                                          tmp_path):
    result = runner.invoke(app, ["predict", str(signed_run), str(heart_csv), "--site-col",
                                 "dataset", "-o", str(signed_run), "--force"])
    assert result.exit_code == 2 and "is a folder" in result.output
    assert (signed_run / "manifest.json").is_file()


def test_identifier_columns_never_reach_the_run(runner, tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame({
        "PatientName": [f"Patient {i} Smith" for i in range(n)],
        "mrn": rng.integers(10**6, 10**7, n),
        "age": rng.normal(60, 10, n).round(),
        "notes": [f"seen on visit {i} with cough" for i in range(n)],
        "sex": rng.choice(["m", "f"], n),
        "site": ["A"] * 70 + ["B"] * 50,
        "label": rng.choice(["yes", "no"], n),
    })
    table = tmp_path / "t.csv"
    frame.to_csv(table, index=False)
    out = tmp_path / "run"
    result = runner.invoke(app, ["fit", str(table), str(table), "--site-col", "site",
                                 "--label-col", "label",
                                 "--source-site", "A", "--target-site", "B", "--method",
                                 "source_only", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "'PatientName', 'mrn'" in result.output and "'notes'" in result.output
    stored = "".join(p.read_text(errors="ignore") for p in out.rglob("*") if p.is_file())
    assert "Smith" not in stored and "cough" not in stored
    assert not any(str(v) in stored for v in frame["mrn"][:20])


@pytest.mark.slow
def test_markup_in_class_names_is_escaped_in_the_report(runner, tmp_path):
    rng = np.random.default_rng(1)
    n = 160
    x = rng.normal(size=n)
    frame = pd.DataFrame({
        "x": x, "z": rng.normal(size=n), "site": ["A"] * 100 + ["B"] * 60,
        "label": np.where(x > 0, "<b>sick</b>", "<img src=x onerror=alert(1)>"),
    })
    table = tmp_path / "t.csv"
    frame.to_csv(table, index=False)
    out = tmp_path / "run"
    fit = runner.invoke(app, ["fit", str(table), str(table), "--site-col", "site",
                                 "--label-col", "label",
                              "--source-site", "A", "--target-site", "B", "--target-labels",
                              "10", "--method", "source_only", "-q", "-o", str(out)])
    assert fit.exit_code == 0, fit.output
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    html = (out / "report.html").read_text()
    assert "<b>sick</b>" not in html and "<img src=x" not in html
    assert "&lt;b&gt;sick&lt;/b&gt;" in html


@pytest.mark.slow
def test_a_second_writer_to_the_same_output_fails_at_once(runner, heart_csv, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".run.lock").write_text(f"{holder.pid}\n")
        result = runner.invoke(app, ["fit", str(heart_csv), str(heart_csv), *FIT, "-o",
                                     str(out)])
        assert result.exit_code == 2 and f"pid {holder.pid}) is writing" in result.output
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock and what a killed writer leaves behind are cleaned up
    (tmp_path / f".run.{holder.pid}.abc.partial").mkdir()
    (tmp_path / f".x.csv.{holder.pid}.abc.tmp").write_text("half")
    result = runner.invoke(app, ["fit", str(heart_csv), str(heart_csv), *FIT, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_full_or_read_only_disk_is_one_line(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("medtransfer.artifacts.tempfile.mkdtemp", full)
    with (pytest.raises(ArtifactError, match="No space left on device; check that the disk"),
          artifacts.atomic_directory(tmp_path / "run")):
        pass
    monkeypatch.setattr("medtransfer.artifacts.tempfile.mkstemp", full)
    with pytest.raises(ArtifactError, match=r"cannot write .*p\.csv: No space left"):
        artifacts.write_csv(tmp_path / "p.csv", pd.DataFrame({"a": [1]}))
    assert list(tmp_path.iterdir()) == []
