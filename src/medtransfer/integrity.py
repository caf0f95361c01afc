"""The manifest's own digest, and an optional HMAC-SHA256 signature that proves who wrote it.

The manifest lists the sha256 of every file of a run; its ``integrity`` entry holds the sha256
of the manifest itself (in canonical JSON, without that entry), so an edit of any value is
seen. A digest is no proof against someone who recomputes it: a signature with a key shared
between the sending and the receiving site (``--sign-key`` / ``--verify-key``) is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from medtransfer.errors import ArtifactError, ConfigError

INTEGRITY = "integrity"
MIN_KEY_BYTES = 16


def canonical(manifest: dict[str, Any]) -> bytes:
    """The bytes that are digested and signed: sorted-key compact JSON without ``integrity``."""
    body = {k: v for k, v in manifest.items() if k != INTEGRITY}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def read_key(path: str | Path) -> bytes:
    """A signing key from a file (at least 16 bytes; surrounding white space is ignored)."""
    path = Path(path)
    try:
        key = path.read_bytes().strip()
    except OSError as err:
        raise ConfigError(f"cannot read the key file {path}: {err.strerror}") from None
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"key file {path} holds {len(key)} bytes; a key needs at least {MIN_KEY_BYTES} "
            "(make one with `medtransfer keygen -o site.key`)"
        )
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key (not the key): the first 16 hex digits of its sha256."""
    return hashlib.sha256(key).hexdigest()[:16]


def seal(manifest: dict[str, Any], key: bytes | None = None) -> dict[str, Any]:
    """Return ``manifest`` with its ``integrity`` entry (digest, and signature with ``key``)."""
    body = canonical(manifest)
    entry: dict[str, Any] = {"sha256": hashlib.sha256(body).hexdigest()}
    if key is not None:
        entry["hmac_sha256"] = hmac.new(key, body, hashlib.sha256).hexdigest()
        entry["key_id"] = key_id(key)
    return {**{k: v for k, v in manifest.items() if k != INTEGRITY}, INTEGRITY: entry}


def check(manifest: dict[str, Any], where: Path, key: bytes | None = None) -> str:
    """Raise ArtifactError unless the manifest is unchanged (and signed with ``key`` if given).

    Returns "signed and verified", "signed (key not given)" or "not signed".
    """
    entry = manifest.get(INTEGRITY)
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise ArtifactError(
            f"{where} has no integrity digest: it was not written by this medtransfer version "
            "or was altered; refit the run"
        )
    body = canonical(manifest)
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), entry["sha256"]):
        raise ArtifactError(
            f"{where} was edited after it was written (its digest does not match); "
            "refusing it: ask the sender for the original run"
        )
    signature = entry.get("hmac_sha256")
    if key is None:
        return "not signed" if signature is None else "signed (key not given)"
    if signature is None:
        raise ArtifactError(f"{where} is not signed, but a verify key was given; ask the sender "
                            "to refit with --sign-key")
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signature)):
        raise ArtifactError(
            f"{where}: the signature does not match the given key (key {key_id(key)}, signed "
            f"with {entry.get('key_id')}); the run was altered or signed by someone else"
        )
    return "signed and verified"
