"""Safe, atomic run directories: JSON manifest + skops models, verified by sha256 on load.

Nothing here unpickles: fitted estimators are stored with skops, whose loader builds only the
types we trust (scikit-learn, skada, numpy, scipy and medtransfer's own classes).
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import errno
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

from medtransfer import integrity
from medtransfer.errors import ArtifactError

MANIFEST = "manifest.json"


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


_WRITE_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT,
                 errno.EFBIG, errno.EISDIR, errno.ENOTDIR}
_held: set[Path] = set()
_signing_key: contextvars.ContextVar[bytes | None] = contextvars.ContextVar(
    "signing_key", default=None
)


def _write_error(path: Path, err: OSError) -> ArtifactError:
    return ArtifactError(
        f"cannot write {path}: {err.strerror or err}; check that the disk has space and the "
        "folder is writable, or choose another path"
    )


@contextlib.contextmanager
def _write_errors_named(path: Path) -> Iterator[None]:
    """Turn a full or read-only disk (and other refusals to write) into one clear line."""
    try:
        yield
    except OSError as err:
        if err.errno not in _WRITE_ERRORS:
            raise
        raise _write_error(path, err) from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(name: str) -> int | None:
    """The writer's pid in a temporary name: ``.<name>.<pid>.<random>.<tmp|partial>`` or
    ``.<name>.old-<pid>``; None for any other name."""
    if ".old-" in name:
        tail = name.rsplit(".old-", 1)[1]
        return int(tail) if tail.isdigit() else None
    parts = name.split(".")
    return int(parts[-3]) if len(parts) >= 5 and parts[-3].isdigit() else None


def remove_orphans(folder: Path) -> None:
    """Remove what killed writers left in ``folder``: partial runs, temp files, stale locks."""
    with contextlib.suppress(OSError):
        for leftover in Path(folder).glob(".*"):
            if not leftover.name.endswith((".partial", ".tmp", ".lock")) and ".old-" not in (
                leftover.name
            ):
                continue
            pid = _lock_pid(leftover) if leftover.name.endswith(".lock") else _owner(
                leftover.name
            )
            if pid is None or pid == os.getpid() or _pid_alive(pid):
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def _lock_pid(lock: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(lock.read_text().split()[0])
    return None


def claim(out: Path) -> None:
    """Claim ``out`` for this process (a lock beside it, made with an exclusive create).

    A second writer to the same path fails at once with a clear line instead of silently
    replacing the first one's finished output. A lock left by a killed process is taken over;
    the claim is released when the output is written or the process ends.
    """
    out = Path(out).absolute()
    if out in _held:
        return
    lock = _lock_path(out)
    with _write_errors_named(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(out.parent)
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = _lock_pid(lock)
                if pid is not None and _pid_alive(pid) and pid != os.getpid():
                    raise ArtifactError(
                        f"another medtransfer process (pid {pid}) is writing {out}; wait for it "
                        f"to finish, choose another output path, or remove {lock} if no "
                        "medtransfer process is running"
                    ) from None
                lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{os.getpid()}\n")
            _held.add(out)
            return
    raise ArtifactError(f"cannot claim {out}: its lock {lock} keeps reappearing")


def release(out: Path) -> None:
    """Give up this process's claim on ``out`` (nothing if it holds none)."""
    out = Path(out).absolute()
    if out in _held:
        _held.discard(out)
        _lock_path(out).unlink(missing_ok=True)


@atexit.register
def release_all() -> None:
    """Give up every claim this process holds (at exit, and after each CLI command)."""
    for out in list(_held):
        release(out)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` only if the block succeeds."""
    path = Path(path)
    if path.is_dir():
        raise ArtifactError(f"{path} is a folder; give the path of a file to write, such as "
                            f"{path / 'predictions.csv'}")
    with _write_errors_named(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                   suffix=".tmp")
        os.close(fd)
        try:
            yield Path(tmp)
            # mkstemp creates 0600 files; what we write are ordinary readable files
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            release(path)


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
    """Refuse to replace an existing path unless ``force``; then claim it for this process."""
    if Path(out).exists() and not force:
        raise ArtifactError(f"{out} already exists; choose another path or pass --force")
    claim(out)


@contextlib.contextmanager
def atomic_directory(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``out`` only if the block succeeds.

    A failure leaves ``out`` as it was (absent or the previous run); ``force`` allows
    replacing an existing ``out``. ``out`` is claimed for the whole block (see :func:`claim`).
    """
    out = Path(out)
    check_writable(out, force)
    try:
        with _write_errors_named(out):
            tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.{os.getpid()}.",
                                        suffix=".partial"))
            try:
                yield tmp
                _replace_directory(tmp, out, force)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        release(out)


def _replace_directory(tmp: Path, out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise ArtifactError(f"{out} appeared while this run was being written; it was kept, "
                            "and this run's output discarded: choose another path")
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if out.is_dir():
            os.replace(out, old)
        else:
            out.rename(old)
        os.replace(tmp, out)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    else:
        os.replace(tmp, out)


def sign_runs_with(key: bytes | None) -> None:
    """Sign every manifest written from now on in this context with ``key`` (HMAC-SHA256;
    None stops signing). ``medtransfer fit --sign-key`` sets it once per command."""
    _signing_key.set(key)


@contextlib.contextmanager
def signing(key: bytes | None) -> Iterator[None]:
    """Sign every manifest written inside the block with ``key`` (HMAC-SHA256; None: don't)."""
    token = _signing_key.set(key)
    try:
        yield
    finally:
        _signing_key.reset(token)


# Written into a run after it was sealed and never read back as a model: `medtransfer report`,
# `medtransfer shift -o RUN` (shown by the report) and the Grad-CAM overlays of
# `medtransfer predict --explain-dir RUN/explain`.
DERIVED_OUTPUTS = ("report.html", "shift.json", "leakage.json", "embedding_pca.png",
                   "embedding_tsne.png")
DERIVED_FOLDERS = {"explain": (".png", ".csv")}


def record_files(run: Path) -> dict[str, str]:
    """sha256 of every file under ``run`` except its manifest, keyed by posix relative path."""
    return {
        p.relative_to(run).as_posix(): sha256_file(p)
        for p in sorted(run.rglob("*"))
        if p.is_file() and p != run / MANIFEST
    }


def write_manifest(folder: Path, manifest: dict) -> None:
    """Complete ``manifest`` with the sha256 of every file under ``folder`` and its own digest
    (signed when inside :func:`signing`); write it there."""
    manifest["files"] = record_files(folder)
    sealed = integrity.seal(to_json(manifest), _signing_key.get())
    manifest[integrity.INTEGRITY] = sealed[integrity.INTEGRITY]
    write_json(folder / MANIFEST, sealed)


def read_manifest(run: Path, verify: bool = True, key: bytes | None = None) -> dict:
    """Read ``run/manifest.json``; with ``verify``, check its digest (and signature with
    ``key``), that every file in the folder is listed and that each matches its sha256."""
    run = Path(run)
    path = run / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{run} is not a medtransfer run: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path} is not valid JSON ({err}); the run is damaged") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise ArtifactError(f"{path} is not a medtransfer manifest (expected a JSON object with "
                            "a 'files' table); the run is damaged")
    if verify:
        integrity.check(manifest, path, key)
        verify_files(run, manifest.get("files", {}))
    return manifest


def verify_run(run: Path, key: bytes | None = None) -> tuple[dict, str]:
    """Check a run folder fully; return its manifest and what its signature says."""
    manifest = read_manifest(run, verify=True, key=key)
    return manifest, integrity.check(manifest, Path(run) / MANIFEST, key)


def verify_files(run: Path, files: dict[str, str]) -> None:
    """Raise ArtifactError when a listed file changed or is missing, or an unlisted one is there."""
    for rel, expected in files.items():
        path = _inside(run, rel)
        if not path.is_file():
            raise ArtifactError(f"{path} is listed in the manifest but missing; the run is damaged")
        if sha256_file(path) != expected:
            raise ArtifactError(
                f"{path} does not match its sha256 in {MANIFEST}: it was modified or tampered "
                "with; refit the run"
            )
    unknown = _unlisted(run, files)
    if unknown:
        raise ArtifactError(
            f"{run} holds files its manifest does not list ({', '.join(unknown[:5])}); "
            "refusing a run that may have been altered: remove them or ask for the original run"
        )


def _inside(run: Path, rel: str) -> Path:
    """``run / rel`` for a plain relative path that stays inside ``run``; else ArtifactError."""
    parts = Path(rel).parts
    if not isinstance(rel, str) or Path(rel).is_absolute() or ".." in parts or not parts:
        raise ArtifactError(f"{run / MANIFEST} lists {rel!r}, which is not a path inside the run")
    path = run / rel
    if path.is_symlink():
        raise ArtifactError(f"{path} is a symbolic link; a run holds only plain files")
    return path


def _unlisted(run: Path, files: dict[str, str]) -> list[str]:
    found = []
    for path in sorted(Path(run).rglob("*")):
        rel = path.relative_to(run).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        if rel == MANIFEST or rel in files or rel in DERIVED_OUTPUTS:
            continue
        folder, _, name = rel.partition("/")
        if DERIVED_FOLDERS.get(folder) and "/" not in name and name.endswith(
            DERIVED_FOLDERS[folder]
        ) and not path.is_symlink():
            continue
        found.append(rel)
    return found
