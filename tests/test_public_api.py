import importlib
import pkgutil
import subprocess
import sys

import pytest

import medtransfer

PACKAGES = sorted(
    m.name for m in pkgutil.iter_modules(medtransfer.__path__, "medtransfer.") if m.ispkg
)


def test_every_top_level_name_exists():
    for name in medtransfer.__all__:
        assert getattr(medtransfer, name) is not None


@pytest.mark.parametrize("module", ["medtransfer", *PACKAGES])
def test_all_lists_every_name_once_and_each_exists(module):
    # ruff's RUF022 keeps each __all__ sorted (isort-style)
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", [])
    assert len(names) == len(set(names)), f"{module}.__all__ repeats a name"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names missing attributes: {missing}"


def test_star_import_works():
    namespace: dict = {}
    exec("from medtransfer import *", namespace)
    assert "TransferPipeline" in namespace


def test_cli_start_does_not_import_torch():
    code = "import sys, medtransfer.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_a_table_fit_imports_no_torch_timm_skada_or_matplotlib(tmp_path):
    code = """
import sys
import numpy as np, pandas as pd
import medtransfer.cli, medtransfer.runs.fit
from medtransfer.data.tables import domain_from_table
from medtransfer.runs.pipeline import TransferPipeline
rng = np.random.default_rng(0)
def table(name):
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["label"] = (frame["a"] > 0).astype(int)
    return domain_from_table(frame, where=name, name=name, label_col="label")
TransferPipeline(method="source_only", classifier="logreg", progress=False).fit(
    table("s"), table("t"), target_labels=10)
# writing the model: skops lists scikit-learn's estimators, which would import torch
from sklearn.linear_model import LogisticRegression
from medtransfer.model_files import dump_estimator, load_estimator
dump_estimator(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), sys.argv[1])
load_estimator(sys.argv[1])
print(sorted(m for m in ("torch", "timm", "skada", "ot", "matplotlib") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model.skops")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_flag_prints_the_package_version():
    from typer.testing import CliRunner

    from medtransfer import __version__
    from medtransfer.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"medtransfer {__version__}"


def test_python_dash_m_runs_the_command_line():
    import subprocess
    import sys

    from medtransfer import __version__

    out = subprocess.run([sys.executable, "-m", "medtransfer", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"medtransfer {__version__}"
