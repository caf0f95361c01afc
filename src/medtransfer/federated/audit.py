"""The site's own record of everything it sends: one JSON line per outgoing message."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


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
        """Log ``payload`` and return it as the JSON text that is sent."""
        text = json.dumps(payload, allow_nan=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps({"time": time.time(), "kind": kind, "payload": payload})
                         + "\n")
        return text

    def entries(self) -> list[dict]:
        """Every logged message, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]
