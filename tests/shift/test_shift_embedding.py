"""2-D embeddings of both domains and the scatter-plot PNG."""

import numpy as np
import pytest

from medtransfer.errors import ConfigError
from medtransfer.shift.embedding import embed_domains, plot_domains


def domains(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(40, 5)), rng.normal(size=(30, 5)) + 3.0


def test_pca_embedding_separates_shifted_domains():
    Xs, Xt = domains()
    coords, is_source, index = embed_domains(Xs, Xt, method="pca", max_samples=25)
    assert coords.shape == (50, 2) and is_source.sum() == 25
    assert sorted(index[~is_source]) == sorted(set(index[~is_source]))
    gap = abs(coords[is_source, 0].mean() - coords[~is_source, 0].mean())
    assert gap > 2 * coords[is_source, 0].std()


def test_tsne_embedding_is_seeded():
    Xs, Xt = domains()
    a, _, _ = embed_domains(Xs, Xt, method="tsne", random_state=1)
    b, _, _ = embed_domains(Xs, Xt, method="tsne", random_state=1)
    assert np.array_equal(a, b) and a.shape == (70, 2)


def test_plot_writes_a_png(tmp_path):
    Xs, Xt = domains()
    coords, is_source, _ = embed_domains(Xs, Xt)
    classes = np.r_[np.arange(40) % 2, -np.ones(30, int)]
    path = plot_domains(coords, is_source, tmp_path / "e.png", classes=classes,
                        class_names=("a", "b"), names=("S", "T"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["e.png"]


def test_unknown_embedding_method():
    with pytest.raises(ConfigError, match="method='umap'; expected 'pca' or 'tsne'"):
        embed_domains(*domains(), method="umap")
