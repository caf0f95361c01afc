"""The site's own record of everything it sends: one JSON line per outgoing message.

A message carrying model tensors (FedBN's rounds) logs them to a safetensors file beside
the log, named in the line with its sha256 and each tensor's shape and dtype, so the site
can inspect exactly what left it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from safetensors.torch import save


class AuditLog:
    """Append-only JSON-lines log of the messages leaving one site.

    Parameters
    ----------
    path : Path
        The file (created with its folder); the site can read it at any time.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def record(self, kind: str, payload: Any) -> str:
        """Log ``payload`` and return it as the JSON text that is sent (its ``"tensors"``,
        if any, go to a file beside the log and travel as arrays, not as JSON)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(payload, dict) and "tensors" in payload:
            payload = {**payload, "tensors": self._write_tensors(payload["tensors"])}
        text = json.dumps(payload, allow_nan=False)
        with self.path.open("a") as handle:
            handle.write(json.dumps({"time": time.time(), "kind": kind, "payload": payload})
                         + "\n")
        return text

    def entries(self) -> list[dict]:
        """Every logged message, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def _write_tensors(self, tensors: dict) -> dict:
        body = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
        file = self.path.with_name(f"{self.path.stem}.{len(self.entries()):04d}.safetensors")
        file.write_bytes(body)
        return {"file": file.name, "sha256": hashlib.sha256(body).hexdigest(),
                "shapes": {k: [list(v.shape), str(v.dtype)] for k, v in tensors.items()}}
