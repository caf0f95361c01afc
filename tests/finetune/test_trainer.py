import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from tests.tiny_images import TINY, two_class_images

from medtransfer.data.domain import Domain
from medtransfer.errors import ArtifactError, ConfigError, DataError
from medtransfer.features.backbones import Backbone, backbone_config, create_backbone
from medtransfer.finetune.augment import Augmenter
from medtransfer.finetune.head import head_to_sklearn, sklearn_to_head
from medtransfer.finetune.inputs import image_tensor, prepare_data
from medtransfer.finetune.loop import BatchSizeWarning, features_of, retry_on_oom
from medtransfer.finetune.trainer import FineTuner
from medtransfer.finetune.transfer import TRANSFER_LOSSES
from medtransfer.model_files import dump_estimator, load_estimator


def square_domain(
    n: int, name: str, *, seed: int, labelled: bool = True, offset: int = 0
) -> Domain:
    """Class 1 has a bright square in the top-left corner; noise elsewhere."""
    return two_class_images(n, seed, offset, ids=name + "{i}", name=name, labelled=labelled)


def tuner(backbone: str | Backbone = TINY, **params) -> FineTuner:
    settings = dict(
        weights="random", image_size=32, epochs=1, batch_size=8,
        lr=1e-3, progress=False,
    )
    return FineTuner(backbone, **{**settings, **params})


SOURCE = square_domain(16, "src", seed=0)
TARGET = square_domain(8, "tgt", seed=1, labelled=False, offset=40)


def test_fit_gives_numpy_head_that_matches_the_torch_model(tmp_path: Path):
    model = tuner(transfer_loss="mmd").fit(SOURCE, TARGET)
    proba = model.predict_proba(TARGET)
    assert proba.shape == (8, 2) and np.allclose(proba.sum(axis=1), 1)
    assert isinstance(model.head_, LogisticRegression)
    assert all(not isinstance(v, torch.Tensor) for v in vars(model.head_).values())
    dump_estimator(model.head_, tmp_path / "head.skops")
    reloaded = load_estimator(tmp_path / "head.skops")
    assert np.allclose(reloaded.predict_proba(model.transform(TARGET)), proba)
    assert [h["epoch"] for h in model.history_] == [0, 1]
    assert {"train_ce", "train_transfer", "val_loss", "seconds"} <= set(model.history_[1])


def test_same_seed_same_weights_other_seed_other_weights():
    states = [tuner(random_state=s).fit(SOURCE, TARGET).backbone_state() for s in (3, 3, 4)]
    key = "model.conv_stem.weight"
    assert torch.equal(states[0][key], states[1][key])
    assert not torch.equal(states[0][key], states[2][key])


def test_resume_continues_exactly_where_training_stopped(tmp_path: Path):
    straight = tuner(epochs=2, val_fraction=0.0).fit(SOURCE, TARGET)
    tuner(epochs=1, val_fraction=0.0, checkpoint_dir=tmp_path).fit(SOURCE, TARGET)
    assert (tmp_path / "last.safetensors").exists()
    assert (tmp_path / "best_backbone.safetensors").exists()
    resumed = tuner(epochs=2, val_fraction=0.0, checkpoint_dir=tmp_path, resume=True)
    resumed.fit(SOURCE, TARGET)
    assert [h["epoch"] for h in resumed.history_] == [0, 1, 2]
    for key, value in straight.backbone_state().items():
        assert torch.allclose(value.float(), resumed.backbone_state()[key].float(), atol=1e-6), key


def test_resume_refuses_a_checkpoint_of_another_configuration(tmp_path: Path):
    tuner(epochs=1, checkpoint_dir=tmp_path).fit(SOURCE, TARGET)
    with pytest.raises(ArtifactError, match=r"another configuration.*resume=False"):
        tuner(epochs=2, image_size=48, checkpoint_dir=tmp_path, resume=True).fit(SOURCE, TARGET)
    with pytest.raises(ConfigError, match=r"\(resume=True\): applies only with checkpoint_dir set"):
        tuner(resume=True).fit(SOURCE, TARGET)


def test_saved_backbone_loads_with_create_backbone(tmp_path: Path):
    model = tuner(epochs=1).fit(SOURCE, TARGET)
    path = model.save_backbone(tmp_path / "tuned.safetensors")
    loaded = create_backbone(TINY, weights=path, device="cpu")
    images = image_tensor(TARGET, loaded.config, 32)
    with torch.no_grad():
        assert np.allclose(loaded(images).numpy(), model.transform(TARGET), atol=1e-5)
    with pytest.raises(ConfigError, match=r"must end in \.safetensors"):
        model.save_backbone(tmp_path / "tuned.pt")


def test_unfreeze_last_block_leaves_the_stem_untouched():
    start = create_backbone(TINY, weights="random", device="cpu").state_dict()
    model = tuner(unfreeze=1, epochs=1).fit(SOURCE, TARGET)
    state = model.backbone_state()
    assert torch.equal(state["model.conv_stem.weight"], start["model.conv_stem.weight"])
    assert not torch.equal(state["model.conv_head.weight"], start["model.conv_head.weight"])
    with pytest.raises(ConfigError, match=r"\(unfreeze=0\): expected 'all' or an integer >= 1"):
        tuner(unfreeze=0).fit(SOURCE, TARGET)


def test_head_conversion_reproduces_softmax_probabilities():
    torch.manual_seed(0)
    x = torch.randn(5, 4)
    for n_classes in (2, 3):
        linear = torch.nn.Linear(4, n_classes)
        expected = torch.softmax(linear(x), dim=1).detach().numpy()
        estimator = head_to_sklearn(linear, np.arange(n_classes))
        assert np.allclose(estimator.predict_proba(x.numpy()), expected, atol=1e-6)
        back = sklearn_to_head(estimator)
        assert np.allclose(torch.softmax(back(x), dim=1).detach().numpy(), expected, atol=1e-6)


def test_augmenter_is_seeded_and_flips_only_when_allowed():
    images = torch.arange(2 * 16.0).view(2, 1, 4, 4).repeat(4, 1, 1, 1)
    still = Augmenter(degrees=0, shift=0, intensity=0, allow_flips=False)
    assert torch.allclose(still(images, torch.Generator().manual_seed(0)), images, atol=1e-4)
    flips = Augmenter(degrees=0, shift=0, intensity=0, allow_flips=True)
    out = flips(images, torch.Generator().manual_seed(0))
    mirrored = [torch.allclose(o, i.flip(-1), atol=1e-4) for o, i in zip(out, images, strict=True)]
    assert any(mirrored)
    jitter = Augmenter()
    first = jitter(images, torch.Generator().manual_seed(5))
    assert torch.equal(first, jitter(images, torch.Generator().manual_seed(5)))
    assert not torch.allclose(first, images)


def test_mixed_grayscale_and_colour_files_become_one_tensor(tmp_path: Path):
    Image.fromarray(np.full((20, 20), 100, np.uint8)).save(tmp_path / "gray.png")
    Image.fromarray(np.full((30, 30, 3), 50, np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.full((25, 25, 4), 50, np.uint8)).save(tmp_path / "rgba.png")
    paths = [tmp_path / n for n in ("gray.png", "rgb.png", "rgba.png")]
    domain = Domain(name="mixed", kind="image", inputs=paths, ids=np.array(["g", "c", "a"]))
    images = image_tensor(domain, backbone_config(TINY), 32)
    assert images.shape == (3, 3, 32, 32)
    config = backbone_config(TINY)
    pixels = [images[0, c] * config.std[c] + config.mean[c] for c in range(3)]
    assert torch.allclose(pixels[0], pixels[2], atol=1e-6)
    assert torch.allclose(pixels[0], torch.full((32, 32), 100 / 255), atol=1e-6)
    assert torch.equal(images[1], images[2])


def test_stage_one_head_learns_from_the_labelled_target_images_too():
    # in this target the square means class "a": only its labels can teach the head that
    target = square_domain(24, "tgt", seed=3, offset=40)
    inverted = replace(target, labels=1 - target.labels)
    test = square_domain(40, "new", seed=9, offset=40)
    with_labels = tuner(epochs=0).fit(SOURCE, inverted).predict(test)
    without = tuner(epochs=0).fit(SOURCE, replace(target, labels=np.full(24, -1))).predict(test)
    assert np.mean(with_labels == 1 - test.labels) >= 0.9
    assert np.mean(without == 1 - test.labels) <= 0.6


def test_validation_split_holds_target_images_and_they_decide_early_stopping():
    target = square_domain(10, "tgt", seed=3, offset=40)
    model = tuner(epochs=1, val_fraction=0.3).fit(SOURCE, target)
    data = prepare_data(SOURCE, target, model.backbone_.config, 32, val_fraction=0.3,
                        random_state=0, progress=False)
    # 26 labelled images in 4 strata (domain x class): every stratum reaches validation
    assert len(data.val_labels) == 8
    assert set(data.val_labels[data.val_from_target].tolist()) == {0, 1}
    assert set(data.val_labels[~data.val_from_target].tolist()) == {0, 1}
    # the kept model's validation loss is its cross-entropy on the target images only
    features = features_of(model.backbone_, data.val_images, 8, torch.device("cpu")).numpy()
    log_p = np.log(model.head_.predict_proba(features))[np.arange(8), data.val_labels.numpy()]
    on_target = data.val_from_target.numpy()
    kept = model.history_[model.best_epoch_]["val_loss"]
    assert kept == pytest.approx(-log_p[on_target].mean(), abs=1e-4)
    assert kept != pytest.approx(-log_p.mean(), abs=1e-4)


def test_a_last_batch_of_one_image_joins_the_batch_before():
    # 9 labelled images in batches of 8: batch normalisation cannot train on the ninth alone
    model = tuner(batch_size=8, val_fraction=0.0).fit(square_domain(9, "src", seed=0))
    assert model.history_[1]["train_ce"] > 0 and model.best_epoch_ == 1


def test_batch_larger_than_the_data_is_clipped_with_a_note():
    with pytest.warns(BatchSizeWarning, match=r"batch_size=64 is larger than the 13 labelled"):
        model = tuner(batch_size=64, epochs=0).fit(SOURCE, TARGET)
    assert model.batch_size_ == 13


def test_out_of_memory_halves_the_batch_then_explains():
    def run(batch_size: int) -> int:
        if batch_size > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return batch_size * 10

    with pytest.warns(BatchSizeWarning, match=r"out of GPU memory.*batch_size=8"):
        assert retry_on_oom(run, 16, torch.device("cpu")) == (20, 2)

    def never(batch_size: int) -> int:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with warnings.catch_warnings(), pytest.raises(ConfigError, match=r"even with batch_size=1"):
        warnings.simplefilter("ignore")
        retry_on_oom(never, 4, torch.device("cpu"))


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["none", *TRANSFER_LOSSES])
def test_mixed_precision_trains_every_loss_in_float16_with_loss_scaling(loss):
    """The CUDA mixed-precision path, run on the CPU: float16 autocast and a GradScaler."""
    backbone = create_backbone(TINY, weights="random", device="cpu")
    seen = set()
    backbone.register_forward_hook(lambda module, args, out: seen.add(out.dtype))
    half = tuner(backbone, transfer_loss=loss, mixed_precision=True, epochs=2).fit(SOURCE, TARGET)
    assert torch.float16 in seen  # the training steps ran under float16 autocast
    losses = [[h["train_ce"], h["train_transfer"]] for h in half.history_[1:]]
    assert np.isfinite(losses).all()
    full = tuner(backbone, transfer_loss=loss, mixed_precision=False, epochs=2).fit(SOURCE, TARGET)
    key = "model.conv_stem.weight"
    start = backbone.state_dict()[key]
    assert not torch.equal(half.backbone_state()[key], start)  # scaled steps were applied
    assert not torch.equal(half.backbone_state()[key], full.backbone_state()[key])
    assert torch.allclose(half.backbone_state()[key], full.backbone_state()[key], atol=0.05)


def test_mixed_precision_auto_is_for_cuda_only():
    on_cpu = tuner(mixed_precision="auto").fit(SOURCE, TARGET).backbone_state()
    plain = tuner(mixed_precision=False).fit(SOURCE, TARGET).backbone_state()
    assert all(torch.equal(on_cpu[k], plain[k]) for k in plain)


def test_transfer_loss_without_unlabelled_target_images_is_refused():
    labelled_target = square_domain(8, "tgt", seed=2)
    with pytest.raises(ConfigError, match=r"'mmd' learns from unlabelled target.*has none"):
        tuner(transfer_loss="mmd").fit(SOURCE, labelled_target)
    model = tuner(transfer_loss="l2sp").fit(SOURCE, labelled_target)
    assert model.history_[1]["train_transfer"] > 0


class _DetachedBackbone(Backbone):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return super().forward(x)


class _Pooling(torch.nn.Module):
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = True) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def test_backbones_that_cannot_be_fine_tuned_are_refused():
    real = create_backbone(TINY, weights="random", device="cpu")
    detached = _DetachedBackbone(real.model, real.config, real.weights_sha256)
    with pytest.raises(ConfigError, match=r"no gradient reaches.*cannot\s+be fine-tuned"):
        tuner(detached).fit(SOURCE, TARGET)
    empty = Backbone(_Pooling(), real.config, "none")
    with pytest.raises(ConfigError, match=r"has no trainable parameters"):
        tuner(empty).fit(SOURCE, TARGET)


def test_bad_settings_and_labels_are_refused():
    with pytest.raises(ConfigError, match=r"\(val_fraction=1.5\): expected a number in \[0, 1"):
        tuner(val_fraction=1.5).fit(SOURCE, TARGET)
    with pytest.raises(ConfigError, match=r"\(image_size=8\): expected an integer from 16 to"):
        tuner(image_size=8).fit(SOURCE, TARGET)
    with pytest.raises(ConfigError, match=r"\(mixed_precision='fp16'\): expected one of 'auto'"):
        tuner(mixed_precision="fp16").fit(SOURCE, TARGET)
    with pytest.raises(ConfigError, match=r"\(transfer_loss='mdd'\): expected.*did you mean 'mmd'"):
        tuner(transfer_loss="mdd").fit(SOURCE, TARGET)
    with pytest.raises(DataError, match=r"source domain 'tgt' has no class labels"):
        tuner().fit(TARGET.without_labels())
    other = Domain(
        name="other", kind="image", inputs=TARGET.inputs, ids=TARGET.ids,
        labels=np.zeros(8, dtype=int), class_names=("x", "y"),
    )
    with pytest.raises(DataError, match=r"harmonize_classes"):
        tuner().fit(SOURCE, other)
