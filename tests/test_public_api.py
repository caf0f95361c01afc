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
