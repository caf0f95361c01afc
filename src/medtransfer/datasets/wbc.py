"""White blood cells from two laboratories: PBC (Barcelona, source) -> BCCD (target).

Not bundled (10k images): read from a data folder laid out as ``DATA/wbc/pbc/<class>/*.jpg``
and ``DATA/wbc/bccd/<CLASS>/*.png`` (the project's copy and its licences are described in
``shared/data/README.md``). Class folders are matched case-insensitively.
"""

from __future__ import annotations

from pathlib import Path

from medtransfer.data.classes import harmonize_classes
from medtransfer.data.domain import Domain
from medtransfer.data.folders import load_image_folder
from medtransfer.errors import ConfigError, DataError

WBC_LAYOUT = "DATA/wbc/pbc/<class>/*.jpg and DATA/wbc/bccd/<CLASS>/*.png"


def wbc_folders(data: Path | None) -> tuple[Path, Path]:
    """The PBC and BCCD folders under ``data``, or an error naming the layout expected."""
    if data is None:
        raise ConfigError(
            f"the wbc data is not bundled; pass --data DATA with {WBC_LAYOUT} "
            "(in this project: --data ../shared/data)"
        )
    folders = Path(data) / "wbc" / "pbc", Path(data) / "wbc" / "bccd"
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise DataError(
            f"{data}: no folder {', '.join(missing)}; the wbc data must be laid out as "
            f"{WBC_LAYOUT} (in this project: --data ../shared/data)"
        )
    return folders


def wbc_pair(data: Path | None) -> tuple[Domain, Domain]:
    """PBC (source, named ``pbc``) and BCCD (target, ``bccd``) with BCCD's labels re-coded
    onto PBC's class list (basophil, eosinophil, lymphocyte, monocyte, neutrophil)."""
    pbc, bccd = wbc_folders(data)
    source = load_image_folder(pbc, name="pbc")
    target = load_image_folder(bccd, name="bccd")
    source, target, _ = harmonize_classes(source, target)
    return source, target
