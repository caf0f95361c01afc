"""Name → factory registries, one per pluggable kind (backbones, methods, classifiers...).

Modelled on timm's registry: entries are filled by the package itself with a decorator,
registering a name twice is an error, and an unknown name gets a "did you mean" suggestion
plus the command that lists the valid names. A registry whose entries are registered in other
modules names them as its ``providers``, imported on the first lookup, so what it holds never
depends on which modules happened to be imported first.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from medtransfer.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of entries of one kind.

    Parameters
    ----------
    kind : str
        What the entries are, used in messages ("backbone", "method").
    list_command : str
        The CLI command that lists the entries, quoted in error messages.
    providers : sequence of str, default=()
        Modules that register entries here, imported before the first lookup.
    """

    def __init__(self, kind: str, list_command: str, providers: Sequence[str] = ()) -> None:
        self.kind = kind
        self.list_command = list_command
        self.providers = tuple(providers)
        self._entries: dict[str, T] = {}
        self._loaded = not self.providers

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # set first: a provider may look entries up while importing
            for module in self.providers:
                importlib.import_module(module)

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its argument under ``name``."""

        def decorator(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorator

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` under ``name``; a name can be registered only once."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        """Return the entry called ``name`` or raise a ConfigError with suggestions."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """The error message for a name that is not registered."""
        self._load()
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"unknown {self.kind} {name!r}.{hint} "
            f"Run `{self.list_command}` to list them (known: {', '.join(sorted(self))})."
        )

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """Entries sorted by name."""
        self._load()
        return sorted(self._entries.items())


def describe(entry: Any) -> str:
    """First line of an entry's docstring, for listings."""
    doc = getattr(entry, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
