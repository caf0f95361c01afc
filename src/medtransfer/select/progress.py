"""What ``auto`` tells the terminal while it works: candidate i of n, fold, elapsed, skips."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class SelectionProgress:
    """A rich progress bar on stderr over every fold of every candidate (off: silent).

    Parameters
    ----------
    enabled : bool
        False prints nothing (``--quiet``).
    names : list of str
        The candidates in the order they are validated.
    fits_per_candidate : int
        Folds (or scorer repeats) per candidate.
    unit : str, default="fold"
        What one of those fits is called on the bar.
    """

    def __init__(self, enabled: bool, names: list[str], fits_per_candidate: int,
                 unit: str = "fold") -> None:
        self.enabled = enabled
        self.names = names
        self.fits = fits_per_candidate
        self.unit = unit
        self.console = Console(stderr=True, highlight=False)
        self.bar = Progress(
            TextColumn("auto: {task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=self.console, disable=not enabled, transient=True,
        )
        self.task = self.bar.add_task("", total=len(names) * fits_per_candidate)
        self.done = 0

    def __enter__(self) -> SelectionProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, kind: type | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.bar.__exit__(kind, value, tb)

    def candidate(self, name: str) -> None:
        """Start validating ``name`` (its position in ``names`` is shown as i of n)."""
        self.current = f"candidate {self.names.index(name) + 1} of {len(self.names)} ({name})"
        self.fold_done = 0
        self._show()

    def fold(self) -> None:
        """One fold of the current candidate is done."""
        self.fold_done += 1
        self.bar.advance(self.task)
        self._show()

    def finish_candidate(self) -> None:
        """The current candidate is done (fills folds it did not report, e.g. after an error)."""
        self.done += 1
        self.bar.update(self.task, completed=self.done * self.fits)

    def note(self, line: str) -> None:
        """One line on stderr above the bar (a skipped candidate and why)."""
        if self.enabled:
            self.console.print(line, markup=False, soft_wrap=True)

    def _show(self) -> None:
        self.bar.update(self.task, description=(
            f"{self.current}, {self.unit} {min(self.fold_done + 1, self.fits)} of {self.fits}"))
