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


def test_every_setting_says_what_it_is_beside_its_field():
    """The lists the resumption check, the data loader and the command line use are read
    from each field's Setting; a field added without one is refused by name."""
    import dataclasses

    from anyconv.train import config

    facts = config.setting_facts()
    assert list(facts) == [f.name for f in dataclasses.fields(TrainConfig)]
    assert tuple(n for n, s in facts.items() if s.resume) == config.RESUME_KEYS
    assert {"lr", "seed", "data", "image_size"} <= set(config.RESUME_KEYS)
    assert not {"epochs", "out", "stream", "workers"} & set(config.RESUME_KEYS)
    assert (*config.DATA_VIEW_OPTIONS, "stream", "workers") == config.DATA_OPTIONS
    assert config.CHOICES["optimizer"] == config.OPTIMIZERS and config.OPTIONAL_CHOICES == ("keep",)
    forgotten = dataclasses.make_dataclass("Grown", [("warmup", int, 0)], bases=(TrainConfig,))
    with pytest.raises(TypeError, match=r"Grown\.warmup has no Setting: declare it with setting"):
        config.setting_facts(forgotten)


def test_each_check_lives_beside_its_field():
    with pytest.raises(
        ValueError, match=r"TrainConfig\(\): argument 'crop_scale' must be a fraction"
    ):
        TrainConfig(crop_scale=1.5)
    with pytest.raises(ValueError, match=r"argument 'keep' must be one of 'best', 'last'"):
        TrainConfig(keep="first")
    with pytest.raises(TypeError, match=r"argument 'stream' must be"):
        TrainConfig(stream="yes")
    assert TrainConfig(keep=None, stream=None, image_size=8).image_size == [8, 8]
