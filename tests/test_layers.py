"""The package reads as one staircase: every import goes down (or stays in its room), none
goes back up, and no two rooms import each other (src/medtransfer/ARCHITECTURE.md)."""

import ast
from collections import defaultdict
from pathlib import Path

import medtransfer

ROOT = Path(medtransfer.__file__).parent

# top to bottom; a room may import rooms on its own step or below
STAIRCASE = (
    {"cli", "__main__"},
    {"explain", "bench"},
    {"runs", "federated", "rank"},
    {"finetune"},
    {"select"},
    {"adapt"},
    {"models", "features", "shift", "datasets"},
    {"data", "report", "harmonize"},
    {"evaluate"},
    {"artifacts", "integrity", "model_files", "params", "registry", "lazy", "errors",
     "__init__"},
)
STEP = {room: step for step, rooms in enumerate(STAIRCASE) for room in rooms}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[str, set[tuple[str, str]]]:
    """Room -> (imported room, importing file), type-checking-only imports left out."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        room = relative.parts[0].removesuffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("medtransfer"):
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("medtransfer")]
            else:
                continue
            for name in names:
                if _room(name) != room:
                    found[room].add((_room(name), str(relative)))
    return found


def test_every_room_is_on_the_staircase():
    rooms = {p.name.removesuffix(".py") for p in ROOT.iterdir()
             if p.suffix == ".py" or (p / "__init__.py").is_file()}
    assert rooms <= set(STEP), f"place {sorted(rooms - set(STEP))} on the STAIRCASE"


def test_no_import_runs_back_up():
    upward = sorted(f"{where} imports medtransfer.{imported}"
                    for room, edges in _imports().items() for imported, where in edges
                    if STEP[imported] < STEP[room])
    assert not upward


def test_no_two_rooms_import_each_other():
    edges = {room: {imported for imported, _ in e} for room, e in _imports().items()}
    both = sorted((a, b) for a, targets in edges.items() for b in targets
                  if a < b and a in edges.get(b, set()))
    assert not both
