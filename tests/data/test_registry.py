"""The dataset registry: names, spec parsing and the contract every built-in loader keeps."""

from __future__ import annotations

import pytest
import torch

from anyconv.data import Splits, list_datasets, load_dataset


def test_every_loader_is_registered_with_help():
    names = list_datasets()
    assert set(names) >= {"digits", "mnist1d", "moving-digits", "idx", "folder", "npz", "ucr"}
    assert all(isinstance(h, str) and h for h in names.values())


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"load_dataset\(\): argument 'spec' must be one of "
        r"'digits'.*'ucr'.*; got 'cifar'",
    ):
        load_dataset("cifar")


def test_spec_must_be_a_string():
    with pytest.raises(TypeError, match="argument 'spec'"):
        load_dataset(None)


@pytest.mark.parametrize("spec", ["digits:x", "moving-digits:8", "mnist1d:a"])
def test_argument_given_to_a_loader_that_takes_none(spec):
    name = spec.partition(":")[0]
    with pytest.raises(ValueError, match=f"must be '{name}' alone.*got '{spec}'"):
        load_dataset(spec)


@pytest.mark.parametrize(
    "name,what", [("idx", "DIR"), ("folder", "DIR"), ("npz", "FILE"), ("ucr", "PREFIX")]
)
@pytest.mark.parametrize("suffix", ["", ":"])
def test_loader_that_needs_a_path_says_so(name, what, suffix):
    with pytest.raises(ValueError, match=f"must be '{name}:{what}'; got '{name}'"):
        load_dataset(name + suffix)


@pytest.mark.parametrize(
    "spec,kind,shape",
    [
        ("digits", "image", (1, 8, 8)),
        ("moving-digits", "video", (1, 10, 16, 16)),
    ],
)
def test_builtin_loaders_keep_the_splits_contract(spec, kind, shape):
    d = load_dataset(spec)
    assert isinstance(d, Splits) and d.kind == kind and d.name == spec
    assert d.input_shape == shape and tuple(d.x_test.shape[1:]) == shape
    assert d.x_train.dtype == d.x_test.dtype == torch.float32
    assert d.y_train.dtype == d.y_test.dtype == torch.int64
    assert len(d.x_train) == len(d.y_train) and len(d.x_test) == len(d.y_test)
    for y in (d.y_train, d.y_test):
        assert int(y.min()) >= 0 and int(y.max()) < d.num_classes
    assert len(d.class_names) == d.num_classes
    assert float(d.x_train.min()) >= 0.0 and float(d.x_train.max()) <= 1.0
