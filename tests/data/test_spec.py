"""anyconv/data/spec.py: the data spec, parsed once; its label and slug."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyconv.data import DataSpec


@pytest.mark.parametrize(
    ("text", "name", "argument", "label", "slug"),
    [
        ("digits", "digits", None, "digits", "digits"),
        (
            "idx:/work/shared/datasets/mnist",
            "idx",
            "/work/shared/datasets/mnist",
            "idx:mnist",
            "idx-mnist",
        ),
        ("idx:../data/mnist/", "idx", "../data/mnist/", "idx:mnist", "idx-mnist"),
        ("ucr:C:/UCR/ECG200", "ucr", "C:/UCR/ECG200", "ucr:ECG200", "ucr-ECG200"),
        ("folder:/a b/c[1]", "folder", "/a b/c[1]", "folder:c[1]", "folder-c-1"),
        ("npz:", "npz", None, "npz", "npz"),
        ("folder:/", "folder", "/", "folder:", "folder"),
    ],
)
def test_parse_label_slug(text, name, argument, label, slug):
    spec = DataSpec.parse(text)
    assert (spec.name, spec.argument, spec.label, spec.slug) == (name, argument, label, slug)
    assert DataSpec.parse(spec) is spec
    assert str(spec) == (text if argument else name)


@given(st.text(max_size=30))
def test_any_text_parses_and_slugs_to_a_file_name(text):
    spec = DataSpec.parse(text)
    assert DataSpec.parse(str(spec)) == spec
    assert spec.slug and "/" not in spec.slug and ":" not in spec.slug


def test_a_spec_must_be_a_string():
    with pytest.raises(TypeError, match=r"load_dataset\(\): argument 'spec' must be a dataset"):
        DataSpec.parse(3)
