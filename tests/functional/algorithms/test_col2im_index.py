"""col2im's scatter index: kept for the next call of a small geometry, built per call for a
large one (so one huge problem does not keep its index alive after it returns)."""

from __future__ import annotations

import torch

from anyconv.functional.algorithms import im2col as module


def _index(out):
    return module._col2im_index((10, 10), (3, 3), (1, 1), (1, 1), out, torch.device("cpu"))


def test_a_small_index_is_cached_and_a_large_one_is_not(monkeypatch):
    module._cached_col2im_index.cache_clear()
    assert _index((8, 8)) is _index((8, 8))
    assert module._cached_col2im_index.cache_info().currsize == 1
    monkeypatch.setattr(module, "CACHED_INDEX_ENTRIES", 9 * 8 * 8 - 1)
    first = _index((8, 8))
    assert first is not _index((8, 8))
    torch.testing.assert_close(first, _index((8, 8)))


def test_the_index_reads_every_window_position():
    # kernel offset (i, j), output (a, b) -> padded position (a + i, b + j), C order
    index = _index((8, 8)).view(3, 3, 8, 8)
    assert index[2, 1, 5, 4].item() == (5 + 2) * 10 + (4 + 1)
