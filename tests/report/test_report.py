"""The HTML report, built from a real run: Cleveland -> Hungary heart disease, CORAL vs others."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skada import CORALAdapter, make_da_pipeline
from sklearn import config_context
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer import artifacts
from medtransfer.errors import ArtifactError
from medtransfer.evaluate.bootstrap import evaluate_predictions
from medtransfer.evaluate.calibration import Recalibrator
from medtransfer.evaluate.metrics import classification_metrics
from medtransfer.report.html import write_report

HEART = "/work/shared/data/heart_disease_uci.csv"
CLASSES = ["no disease", "disease"]
FEATURES = ["age", "trestbps", "chol", "thalch", "oldpeak"]
K_LABELLED = 20


def heart_domains():
    df = pd.read_csv(HEART)
    X = pd.get_dummies(df[[*FEATURES, "sex", "cp", "exang"]].astype({"exang": "string"}),
                       dtype=float).to_numpy()
    y = (df["num"] > 0).astype(int).to_numpy()
    pid = np.array([f"PID{i:05d}" for i in df["id"]])
    src, tgt = (df["dataset"] == "Cleveland").to_numpy(), (df["dataset"] == "Hungary").to_numpy()
    return (X[src], y[src]), (X[tgt], y[tgt], pid[tgt])


def fit_models(Xs, ys, Xl, yl, Xt) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Real models: three baselines, CORAL, and CORAL temperature-scaled on the labelled cases.

    Also returns the selection evidence: each candidate's AUROC on the labelled target cases.
    """
    def logreg():
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                             LogisticRegression(max_iter=2000))

    coral = make_da_pipeline(SimpleImputer(strategy="median"), StandardScaler(), CORALAdapter(),
                             LogisticRegression(max_iter=2000))
    X_all = np.vstack([Xs, Xl, Xt])
    y_all = np.r_[ys, yl, -np.ones(len(Xt), int)]
    domain = np.r_[np.ones(len(Xs), int), -np.ones(len(Xl) + len(Xt), int)]
    with config_context(enable_metadata_routing=True):  # skada routes sample_domain
        coral.fit(X_all, y_all, sample_domain=domain)
        p_coral = coral.predict_proba(Xt, sample_domain=-np.ones(len(Xt), int))
        p_lab = coral.predict_proba(Xl, sample_domain=-np.ones(len(Xl), int))
    source_only = logreg().fit(Xs, ys)
    proba = {
        "source_only": source_only.predict_proba(Xt),
        "target_only": logreg().fit(Xl, yl).predict_proba(Xt),
        "pooled": logreg().fit(np.vstack([Xs, Xl]), np.r_[ys, yl]).predict_proba(Xt),
        "coral": p_coral,
    }
    proba["coral+recalibrated"] = Recalibrator("temperature").fit(p_lab, yl).transform(
        proba["coral"])
    evidence = [
        {"method": name, "auroc_on_labelled": classification_metrics(yl, p, class_names=CLASSES)[
            "auroc"]}
        for name, p in (("source_only", source_only.predict_proba(Xl)), ("coral", p_lab))
    ]
    return proba, evidence


def write_predictions(run: Path, proba: dict, y: np.ndarray, pid: np.ndarray) -> None:
    frames = []
    for name, p in proba.items():
        frames.append(pd.DataFrame({
            "model": name, "id": pid, "label": np.array(CLASSES)[y],
            "prediction": np.array(CLASSES)[p.argmax(1)],
            **{f"p_{c}": p[:, i] for i, c in enumerate(CLASSES)},
        }))
    pd.concat(frames).to_csv(run / "predictions.csv", index=False)


def write_extras(run: Path, Xs, Xt) -> None:
    """shift.json (with identifier-like keys that must not leak), embedding, Grad-CAM images."""
    shift = {"mmd": {"statistic": 0.081, "p_value": 0.002}, "label_shift": {"source": 0.46,
             "target": 0.36}, "features": [{"feature": f, "psi": float(np.nanstd(Xt[:, i]) /
                                            np.nanstd(Xs[:, i]))} for i, f in enumerate(FEATURES)],
             "patient_id": "PID99999", "PatientName": "DOE^JANE"}
    (run / "shift.json").write_text(json.dumps(shift))
    imp = make_pipeline(SimpleImputer(strategy="median"), StandardScaler()).fit(np.vstack([Xs, Xt]))
    pca = PCA(2, random_state=0).fit(imp.transform(np.vstack([Xs, Xt])))
    zs, zt = imp.transform(Xs), imp.transform(Xt)
    domain = np.r_[np.ones(len(zs), int), -np.ones(len(zt), int)]
    with config_context(enable_metadata_routing=True):
        aligned = CORALAdapter().fit_transform(np.vstack([zs, zt]), sample_domain=domain)
    aligned = aligned[: len(zs)]
    np.savez(run / "embedding.npz", source=pca.transform(zs), target=pca.transform(zt),
             source_adapted=pca.transform(aligned), target_adapted=pca.transform(zt))
    (run / "explain").mkdir()
    ramp = np.linspace(0, 255, 64 * 64, dtype=np.uint8).reshape(64, 64)
    Image.fromarray(ramp).save(run / "explain" / "PID00042_gradcam.png")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    (Xs, ys), (Xt, yt, pid) = heart_domains()
    rng = np.random.default_rng(0)
    lab = rng.choice(len(yt), K_LABELLED, replace=False)
    test = np.setdiff1d(np.arange(len(yt)), lab)
    proba, scores = fit_models(Xs, ys, Xt[lab], yt[lab], Xt[test])
    run = tmp_path_factory.mktemp("run")
    write_predictions(run, proba, yt[test], pid[test])
    write_extras(run, Xs, Xt)
    metrics = {name: evaluate_predictions(yt[test], p, class_names=CLASSES, n_resamples=100)
               for name, p in proba.items() if name != "pooled"}  # pooled: the report computes
    manifest = {
        "medtransfer_version": "0.1.0", "created": "2025-01-01T00:00:00", "seed": 0,
        "command": "medtransfer fit heart.csv heart.csv --method auto -o RUN",
        "task": "classification", "method": "coral", "classifier": "logreg", "backbone": None,
        "class_names": CLASSES,
        "source": {"name": "Cleveland", "n": len(ys),
                   "class_counts": dict(zip(CLASSES, np.bincount(ys).tolist(), strict=True))},
        "target": {"name": "Hungary", "n": len(yt), "n_labelled": K_LABELLED,
                   "class_counts": dict(zip(CLASSES, np.bincount(yt).tolist(), strict=True))},
        "labelled_target_ids": pid[lab].tolist(),
        "selection": {"criterion": "AUROC on the labelled target cases", "scores": scores},
        "metrics": metrics, "files": artifacts.record_files(run),
    }
    artifacts.write_manifest(run, manifest)
    write_report(run)
    return run


@pytest.mark.slow
def test_report_has_every_section(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    for anchor in ("leakage", "data", "shift", "selection", "metrics", "roc", "calibration",
                   "calstudy", "utility", "samplesize", "confusion", "embedding", "explain",
                   "card"):
        assert f"<section id='{anchor}'>" in text, anchor
    for name in ("coral", "source_only", "target_only", "pooled", "Cleveland", "Hungary",
                 "Paired comparison", "DeLong", "Intended use", "Limitations"):
        assert name in text, name
    assert "before / after recalibration" in text
    # ROC, reliability, smoothed calibration, decision curves, confusion, embedding, Grad-CAM
    assert len(re.findall(r"src='data:image/png;base64,", text)) == 7


def test_report_shows_the_runs_numbers(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    auroc = manifest["metrics"]["coral"]["auroc"]
    assert f"{auroc['value']:.3f}" in text and f"{auroc['low']:.3f}" in text
    # pooled had no stored metrics: the report computed them from predictions.csv
    pooled_row = re.search(r"<tr><td>pooled</td>(.*?)</tr>", text).group(1)
    assert pooled_row.count("class=ci") >= 9


def test_no_patient_identifier_and_nothing_external(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    assert "PatientName" not in text and "DOE^JANE" not in text
    assert re.search(r"PID\d{5}", text) is None  # neither test ids, labelled ids nor filenames
    assert re.search(r"(src|href)=['\"]?(https?:)?//", text) is None
    assert "://" not in text
    assert not list(run_dir.glob(".report.html.*"))  # temp file replaced atomically


@pytest.mark.slow
def test_report_is_reproducible(run_dir: Path) -> None:
    first = (run_dir / "report.html").read_text()
    assert write_report(run_dir, force=True).read_text() == first


def test_tampered_or_incomplete_runs_are_refused(run_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "run"
    shutil.copytree(run_dir, broken)
    with open(broken / "predictions.csv", "a") as handle:
        handle.write("coral,x,disease,disease,0.2,0.8\n")
    with pytest.raises(ArtifactError, match="does not match its sha256"):
        write_report(broken)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["files"] = {}
    manifest["method"] = "kmm"
    artifacts.write_manifest(broken, manifest)
    with pytest.raises(ArtifactError, match="no rows for the chosen method 'kmm'"):
        write_report(broken)
    manifest["class_names"] = ["no disease", "mild", "severe"]
    artifacts.write_manifest(broken, manifest)
    with pytest.raises(ArtifactError, match=r"lacks columns \['p_mild', 'p_severe'\]"):
        write_report(broken)


def test_chromium_renders_the_report_cleanly(run_dir: Path, tmp_path: Path, chromium) -> None:
    pixels, dom, log = chromium.render(run_dir / "report.html", tmp_path / "good")
    assert pixels.shape == (4000, 1280, 3)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500
    assert np.abs(pixels[20, 640].astype(int) - (0x1F, 0x5F, 0x8B)).max() < 10  # header drawn
    assert "Performance on held-out target cases" in dom and "Model card" in dom
    assert chromium.page_problems(log) == []
    # the check can fail: an outside image and an inline script are blocked by the report's
    # content security policy, and Chromium logs both
    bad = tmp_path / "bad.html"
    bad.write_text((run_dir / "report.html").read_text().replace(
        "</main>", "<img src='http://example.invalid/x.png'><script>nope()</script></main>"))
    _, _, bad_log = chromium.render(bad, tmp_path / "bad")
    problems = chromium.page_problems(bad_log)
    assert len(problems) >= 2 and "example.invalid" in " ".join(problems)


def test_damaged_run_files_are_named(run_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"] = {}
    artifacts.write_manifest(run, {**manifest, "class_names": ["disease"]})
    with pytest.raises(ArtifactError, match=r"'class_names' lists \['disease'\]; .* at least two"):
        write_report(run)
    artifacts.write_manifest(run, manifest)
    # each damage below is re-sealed (digest and hashes recomputed), as a careless tool would
    np.savez(run / "embedding.npz", source=np.zeros((3, 5)))
    artifacts.write_manifest(run, manifest)
    with pytest.raises(ArtifactError, match=r"embedding.npz must hold 2-D arrays"):
        write_report(run)
    (run / "embedding.npz").unlink()
    table = pd.read_csv(run / "predictions.csv", dtype=str, keep_default_na=False)
    table.loc[0, "label"] = "maybe"
    table.to_csv(run / "predictions.csv", index=False)
    artifacts.write_manifest(run, manifest)
    with pytest.raises(ArtifactError, match=r"'label' holds \['maybe'\], not among class_names"):
        write_report(run)
    (run / "predictions.csv").unlink()
    artifacts.write_manifest(run, manifest)
    with pytest.raises(ArtifactError, match=r"predictions\.csv is missing"):
        write_report(run)
