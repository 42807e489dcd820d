"""A run's input normalisation, applied to raw arrays as the loader applied it."""

import numpy as np
import torch

from anyconv.data import load_dataset
from anyconv.train.inputs import input_record, normalize, range_warning, top_k


def test_raw_digits_arrays_become_the_loader_s_inputs():
    from anyconv.data.digits import digit_arrays

    data = load_dataset("digits")
    raw = torch.tensor(digit_arrays()[0] * 16)  # back to grey levels 0..16
    assert torch.allclose(normalize(raw, data.normalization), data.x_train)


def test_raw_ucr_series_are_z_normalised_like_the_loader(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.normal(5, 3, (6, 12))
    for part in ("TRAIN", "TEST"):
        lines = [f"{i % 2}\t" + "\t".join(map(str, r)) for i, r in enumerate(rows)]
        (tmp_path / f"S_{part}.tsv").write_text("\n".join(lines) + "\n")
    data = load_dataset(f"ucr:{tmp_path / 'S'}")
    raw = torch.tensor(rows, dtype=torch.float32).unsqueeze(1)
    assert torch.allclose(normalize(raw, data.normalization), data.x_train, atol=1e-5)


def test_mean_and_std_per_channel_apply_to_images_too():
    x = torch.ones(2, 3, 4, 4) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    norm = {"mean": [1.0, 1.0, 1.0], "std": [1.0, 2.0, 4.0]}
    for raw in (True, False):
        out = normalize(x, norm, raw=raw)
        assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.0, 0.5, 0.5]))


def test_range_warning_far_off_and_narrow():
    record = input_record(torch.rand(50, 1, 4, 4), {"divide": 16.0})
    assert set(record) == {"normalization", "min", "max", "mean", "std"}
    assert range_warning(torch.rand(3, 1, 4, 4), record, "ok.npy") is None
    assert "0..16 here" in range_warning(torch.rand(3, 1, 4, 4) * 16, record, "big.npy")
    assert "spanned" in range_warning(torch.rand(3, 1, 4, 4) / 16, record, "narrow.npy")


def test_top_k_names_classes_in_order():
    probs = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    ranked = top_k(probs, ["a", "b", "c"], 5)  # clipped to the 3 classes
    assert [[n for n, _ in r] for r in ranked] == [["b", "c", "a"], ["a", "c", "b"]]
