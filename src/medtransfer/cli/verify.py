"""``medtransfer verify`` and ``medtransfer keygen``: check a received run; make a signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command


@command(
    "verify",
    epilog=(
        "Examples:\n\n"
        "  medtransfer verify runs/hungary\n\n"
        "  medtransfer verify runs/hungary --verify-key site.key"
    ),
)
def verify(
    run: Annotated[Path, typer.Argument(help="Run folder to check.")],
    verify_key: opt.VerifyKey = None,
) -> None:
    """Check a run folder before using it: the manifest's own digest, the sha256 of every
    file, that no file is unlisted, that every model holds only known types, and the signature
    when a key is given. Prints what is wrong in one line (exit 2), else what was checked."""
    from medtransfer import artifacts, integrity, model_files

    key = None if verify_key is None else integrity.read_key(verify_key)
    manifest, signature = artifacts.verify_run(run, key)
    models = sorted(str(rel) for rel in manifest["files"] if str(rel).endswith(".skops"))
    for rel in models:
        model_files.load_estimator(Path(run) / rel)
    typer.echo(f"{run}: OK — manifest digest, {len(manifest['files'])} files, "
               f"{len(models)} model files of known types; {signature}")


@command("keygen", epilog="Example:\n\n  medtransfer keygen -o site.key")
def keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="Key file to write (kept secret).")],
    force: opt.Force = False,
) -> None:
    """Write a new random 32-byte signing key (hex) for `fit --sign-key` / `--verify-key`.
    Share it with the receiving site out of band, never inside a run folder."""
    import os
    import secrets

    from medtransfer import artifacts, integrity

    artifacts.check_writable(out, force)
    key = secrets.token_hex(32).encode()
    artifacts.write_bytes(out, key + b"\n")
    os.chmod(out, 0o600)
    typer.echo(f"key {integrity.key_id(key)} written to {out}; keep it secret")
