import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from anyconv.data import DataSpec
from anyconv.train import TrainConfig, lr_factor, random_shift


def test_defaults_round_trip_through_dict():
    config = TrainConfig(model="lenet5", epochs=3, model_kwargs={"width": 2})
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("epochs", 0, "positive int"),
        ("optimizer", "adam", "'adamw', 'sgd'"),
        ("schedule", "step", "'cosine'"),
        ("device", "tpu", "'auto'"),
        ("lr", -1.0, r"in \[0, inf\)"),
        ("lr", float("inf"), r"in \[0, inf\)"),
        ("lr", float("nan"), r"in \[0, inf\)"),
        ("model_kwargs", {"num_classes": 3}, "come from the data"),
    ],
)
def test_bad_settings_name_the_field(field, value, words):
    with pytest.raises(ValueError, match=rf"argument '{field}'.*{words}"):
        TrainConfig(**{field: value})


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="bogus"):
        TrainConfig.from_dict({"bogus": 1})


def test_default_run_dir_is_named_after_model_and_data():
    path = TrainConfig(model="lenet5", data="idx:../shared/datasets/mnist/").run_dir()
    assert path.parent.name == "runs" and path.name.startswith("lenet5-idx-mnist-")
    assert DataSpec.parse("digits").slug == "digits"


def test_schedules():
    total = 100
    cosine = [lr_factor("cosine", s, total) for s in range(total)]
    assert cosine[0] == 1.0 and all(a > b for a, b in itertools.pairwise(cosine))
    assert math.isclose(lr_factor("cosine", 50, total), 0.5)
    cycle = [lr_factor("onecycle", s, total) for s in range(total + 1)]
    assert math.isclose(cycle[0], 1 / 25) and math.isclose(max(cycle), 1.0)
    assert cycle.index(max(cycle)) == 30 and math.isclose(cycle[-1], 1e-4)
    assert lr_factor("none", 7, total) == 1.0


@pytest.mark.parametrize("shape", [(5, 2, 7, 9), (3, 2, 4, 6, 5)])
def test_random_shift_matches_pad_and_crop_per_sample(shape):
    x = torch.randn(shape)
    offsets = torch.randint(0, 5, (shape[0], 2))
    padded = F.pad(x, (2, 2, 2, 2))
    h, w = shape[-2:]
    expected = torch.stack(
        [padded[i, ..., r : r + h, c : c + w] for i, (r, c) in enumerate(offsets.tolist())]
    )
    assert torch.equal(random_shift(x, offsets, 2), expected)
    centre = torch.full((shape[0], 2), 2)
    assert torch.equal(random_shift(x, centre, 2), x)
