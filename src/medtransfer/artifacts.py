"""Safe, atomic run directories: JSON manifest + skops models, verified by sha256 on load.

Nothing here unpickles: fitted estimators are stored with skops, whose loader builds only the
types we trust (scikit-learn, skada, numpy, scipy and medtransfer's own classes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtransfer.errors import ArtifactError

MANIFEST = "manifest.json"
TRUSTED_PREFIXES = ("medtransfer.", "sklearn.", "skada.", "numpy.", "scipy.", "builtins.")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def to_json(value: Any) -> Any:
    """Convert numpy scalars/arrays (recursively) to plain JSON types; NaN/inf become null.

    An undefined metric (e.g. NPV when a model never predicts negative) is NaN, which strict
    JSON cannot hold.
    """
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, np.generic):
        return to_json(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates 0600 files; what we write are ordinary readable files
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes atomically and durably (readers see nothing or all of it)."""
    with atomic_file(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(to_json(payload), indent=2, allow_nan=False))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write a CSV atomically."""
    with atomic_file(path) as tmp:
        frame.to_csv(tmp, index=False)


def check_writable(out: Path, force: bool) -> None:
    """Refuse to replace an existing path unless ``force``."""
    if Path(out).exists() and not force:
        raise ArtifactError(f"{out} already exists; choose another path or pass --force")


@contextlib.contextmanager
def atomic_directory(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``out`` only if the block succeeds.

    A failure leaves ``out`` as it was (absent or the previous run); ``force`` allows
    replacing an existing ``out``.
    """
    out = Path(out)
    check_writable(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        yield tmp
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def dump_estimator(estimator: Any, path: Path) -> None:
    """Save a fitted estimator with skops (no pickle)."""
    import skops.io as sio  # imports torch's array API when torch is installed: only here

    try:
        sio.dump(estimator, path)
    except Exception as err:  # skops raises many types for unsupported objects
        raise ArtifactError(
            f"cannot save {type(estimator).__name__} safely to {path}: {err}"
        ) from err


def load_estimator(path: Path) -> Any:
    """Load a skops file, refusing any type outside the trusted packages."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:
        raise ArtifactError(f"{path} is not a readable skops model file: {err}") from None
    foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if foreign:
        raise ArtifactError(f"{path} holds types medtransfer does not trust: {foreign}")
    return sio.load(path, trusted=untrusted)


def record_files(run: Path) -> dict[str, str]:
    """sha256 of every file under ``run`` except its manifest, keyed by posix relative path."""
    return {
        p.relative_to(run).as_posix(): sha256_file(p)
        for p in sorted(run.rglob("*"))
        if p.is_file() and p != run / MANIFEST
    }


def write_manifest(folder: Path, manifest: dict) -> None:
    """Complete ``manifest`` with the sha256 of every file under ``folder``; write it there."""
    manifest["files"] = record_files(folder)
    write_json(folder / MANIFEST, manifest)


def read_manifest(run: Path, verify: bool = True) -> dict:
    """Read ``run/manifest.json``; with ``verify``, check every listed file's sha256."""
    run = Path(run)
    path = run / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{run} is not a medtransfer run: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{path} is not valid JSON ({err}); the run is damaged") from None
    if verify:
        verify_files(run, manifest.get("files", {}))
    return manifest


def verify_files(run: Path, files: dict[str, str]) -> None:
    """Raise ArtifactError when a listed file changed or is missing."""
    for rel, expected in files.items():
        path = run / rel
        if not path.is_file():
            raise ArtifactError(f"{path} is listed in the manifest but missing; the run is damaged")
        if sha256_file(path) != expected:
            raise ArtifactError(
                f"{path} does not match its sha256 in {MANIFEST}: it was modified or tampered "
                "with; refit the run"
            )
