"""Problems too large for memory are refused before anything is allocated, with anyconv's
ValueError giving the estimate and the limit (issue 17.3, operator side)."""

from __future__ import annotations

import pytest
import torch

import anyconv
from anyconv.functional.algorithms import memory

GB = 10**9


@pytest.fixture
def limit(monkeypatch):
    """A fixed limit of 8 GB, whatever this machine has."""
    monkeypatch.setattr(memory, "MEMORY_LIMIT", 8 * GB)
    return 8 * GB


@pytest.mark.parametrize("algorithm", anyconv.list_algorithms())
def test_padding_2_to_the_40_is_refused_by_the_output_size(limit, algorithm):
    x, w = torch.randn(1, 1, 16), torch.randn(1, 1, 3)
    with pytest.raises(ValueError, match=r"conv\(\): the output of shape \(1, 1, 2199023255566\)"):
        anyconv.conv(x, w, padding=2**40, algorithm=algorithm)


@pytest.mark.parametrize("algorithm", ["direct", "im2col", "fft"])
def test_huge_dilation_with_same_is_refused_with_the_estimate(limit, algorithm):
    x, w = torch.randn(1, 1, 16, 16), torch.randn(1, 1, 3, 3)
    with pytest.raises(ValueError) as info:
        anyconv.conv(x, w, padding="same", dilation=10**6, algorithm=algorithm)
    message = str(info.value)
    assert f"argument 'algorithm'='{algorithm}' would need about" in message
    assert " TB for its forward pass, above the limit of 8.0 GB (MEMORY_LIMIT" in message
    assert "another algorithm ('native'" in message  # the kernel pads implicitly: it fits


def test_huge_dilation_runs_where_it_fits(limit):
    """``auto`` passes over the FFT path, which would not fit, and the native kernel (which
    pads without a copy) computes the one tap that lands inside the input."""
    x, w = torch.randn(1, 1, 16, 16, dtype=torch.float64), torch.randn(1, 1, 3, 3).double()
    y = anyconv.conv(x, w, padding="same", dilation=10**6)
    torch.testing.assert_close(y, x * w[0, 0, 1, 1])


def test_im2col_of_a_long_signal_with_a_long_kernel(limit):
    """2^20 samples, k = 4097: 17.1 GB of columns."""
    x, w = torch.empty(1, 1, 2**20), torch.empty(1, 1, 4097)
    with pytest.raises(ValueError, match=r"'im2col' would need about 17\.1 GB"):
        anyconv.conv(x, w, algorithm="im2col")


def test_the_default_limit_is_half_of_the_device_memory(monkeypatch):
    monkeypatch.setattr(memory, "MEMORY_LIMIT", None)
    cpu = torch.device("cpu")
    assert memory.memory_limit(cpu) == memory.device_memory(cpu) // 2
    x, w = torch.empty(1, 1, 16), torch.empty(1, 1, 3)
    with pytest.raises(ValueError, match="half of the cpu device's"):
        anyconv.conv(x, w, padding=2**40)


def test_raising_the_limit_lets_a_problem_through(monkeypatch):
    x, w = torch.randn(1, 2, 300), torch.randn(3, 2, 51)
    monkeypatch.setattr(memory, "MEMORY_LIMIT", 10_000)
    with pytest.raises(ValueError, match=r"'im2col' would need about \d+\.\d kB"):
        anyconv.conv(x, w, algorithm="im2col")
    monkeypatch.setattr(memory, "MEMORY_LIMIT", 10**8)
    torch.testing.assert_close(
        anyconv.conv(x, w, algorithm="im2col"), anyconv.conv(x, w, algorithm="native")
    )


def test_auto_with_no_candidate_that_fits_names_the_one_it_would_run(monkeypatch):
    monkeypatch.setattr(memory, "MEMORY_LIMIT", 100_000)
    x, w = torch.randn(1, 1, 4000, 2), torch.randn(1, 1, 3, 1)
    with pytest.raises(ValueError, match=r"'algorithm'='auto' \(which runs 'native' here\)"):
        anyconv.conv(x, w, padding=((4000, 0), 0))  # native copies the padded input


def test_tiled_and_layers_check_too(limit):
    x = torch.randn(1, 1, 16)
    with pytest.raises(ValueError, match="the output of shape"):
        anyconv.tiled_conv(x, torch.randn(1, 1, 3, 2), tiles=2, padding=2**40)
    layer = anyconv.nn.Conv2d(1, 1, 3, padding="same", dilation=10**6, algorithm="im2col")
    with pytest.raises(ValueError, match="would need about"):
        layer(torch.randn(1, 1, 16, 16))


@pytest.mark.parametrize("algorithm", ["native", "direct", "im2col", "fft", "matrix"])
def test_estimates_are_at_least_the_output_and_grow_with_the_problem(algorithm):
    """Each estimate covers the output and more of the problem costs more memory."""
    from anyconv.functional.algorithms import registry
    from anyconv.padding import conv_spec

    entry = registry.ALGORITHMS[algorithm]
    sizes = []
    for n in (64, 256):
        spec = conv_spec(
            (2, 3, n, n),
            (4, 3, 5, 5),
            stride=1,
            padding="same",
            dilation=1,
            groups=1,
            padding_mode="reflect",
        )
        problem = registry.Problem(
            (2, 3, n, n), (4, 3, 5, 5), spec, torch.float32, torch.device("cpu"), False
        )
        sizes.append(entry.memory(problem))
        assert sizes[-1] >= memory.output_bytes(problem)
    assert sizes[1] > sizes[0]


def test_one_rule_for_convolutions_data_and_commands(monkeypatch, tmp_path, capsys):
    """MEMORY_LIMIT bounds what a data loader and a command plan to allocate, as it bounds a
    convolution: one policy, one wording (the memory module's)."""
    import numpy as np

    from anyconv.cli import main
    from anyconv.data import load_dataset

    monkeypatch.setattr(memory, "MEMORY_LIMIT", 1000)
    assert main(["demo", "--size", "16,16", "--repeat", "1"]) == 2
    assert "this demo would need about" in capsys.readouterr().err
    path = tmp_path / "d.npz"
    x = np.zeros((40, 1, 8, 8), np.float32)
    np.savez(path, x_train=x, y_train=np.arange(40) % 2, x_test=x, y_test=np.arange(40) % 2)
    with pytest.raises(ValueError, match=r"d\.npz: .* above the limit of 1\.0 kB \(MEMORY_LIMIT"):
        load_dataset(f"npz:{path}")
    monkeypatch.setattr(memory, "MEMORY_LIMIT", None)
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    with pytest.raises(ValueError, match=r"but only 1\.0 kB of memory is available now"):
        load_dataset(f"npz:{path}")
