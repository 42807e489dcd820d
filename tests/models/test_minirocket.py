"""MiniRocket: its transform against a float64 loop of the paper's definition and against
sktime's (numba) MiniRocket given the same parameters, its biases against numpy's
quantiles of the chosen series, the dilations against sktime's rule, the classifiers, the
channel combinations of multivariate series, and argument errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from anyconv import ppv_pool
from anyconv.models import MiniRocket
from anyconv.models.minirocket import (
    NUM_KERNELS,
    fit_dilations,
    kernel_weights,
    quantile_sequence,
    row_quantiles,
)

try:
    import numba  # noqa: F401
    from sktime.transformations.rocket import _minirocket_multi_numba as sk_multi
    from sktime.transformations.rocket import _minirocket_numba as sk_uni
except ImportError:
    sk_uni = sk_multi = None
needs_sktime = pytest.mark.skipif(sk_uni is None, reason="needs sktime and numba (test extra)")


@pytest.fixture(params=["numba", "pytorch"])
def path(request, monkeypatch):
    """The transform's two paths: numba's fused loop (where numba is installed) and the
    PyTorch one (im2col + GEMM + ppv_count), which runs when numba is missing."""
    import anyconv.models.minirocket as mr

    if request.param == "numba" and mr._numba_kernel() is None:
        pytest.skip("needs numba (the timeseries extra)")
    if request.param == "pytorch":
        monkeypatch.setattr(mr, "_numba_kernel", lambda: None)
    return request.param


def brute_features(x, dilations, per_dilation, biases, channels):
    """The paper's definition, in float64 loops: for dilation i, kernel k (2 at the taps of
    the k-th 3-combination of 0..8, -1 elsewhere) summed over the channels ``channels(i,
    k)``, the zero-padded output C_t = sum_p w_p x[t + (p - 4) d]; its features are the
    fractions of C (all of it when i + k is even, else C[4d : L - 4d]) above each bias."""
    x = np.asarray(x, np.float64)
    n, _, length = x.shape
    combos = list(itertools.combinations(range(9), 3))
    out, f = [], 0
    for i, (d, count) in enumerate(zip(dilations, per_dilation)):
        for k in range(84):
            w = np.full(9, -1.0)
            w[list(combos[k])] = 2.0
            series = x[:, channels(i, k)].sum(1)
            c = np.zeros((n, length))
            for p in range(9):
                shift = (p - 4) * d
                lo, hi = max(0, -shift), min(length, length - shift)
                if lo < hi:
                    c[:, lo:hi] += w[p] * series[:, lo + shift : hi + shift]
            region = c if (i + k) % 2 == 0 else c[:, 4 * d : length - 4 * d]
            for _ in range(count):
                out.append((region > biases[f]).mean(1))
                f += 1
    return np.stack(out, 1)


def assert_close_features(ours, reference, length):
    """Equal but for rare near-ties (a float32 output a rounding away from its bias)."""
    diff = np.abs(np.asarray(ours, np.float64) - reference)
    assert diff.max() <= 2 / (length - 8) + 1e-6
    assert (diff > 1e-6).mean() < 2e-4


def test_kernels_dilations_and_quantiles_follow_the_paper():
    w = kernel_weights()
    assert w.shape == (84, 9) and set(w.unique().tolist()) == {-1.0, 2.0}
    assert (w == 2).sum(1).eq(3).all() and w.sum(1).eq(0).all()
    assert len({tuple(r) for r in w.tolist()}) == 84
    dilations, counts = fit_dilations(1000)
    assert dilations[0] == 1 and dilations[-1] == int(2 ** np.log2(999 / 8))
    assert sum(counts) == 10_000 // 84 and all(c > 0 for c in counts)
    assert fit_dilations(9) == ([1], [119])
    phi = (1 + 5**0.5) / 2
    golden = torch.tensor([(i * phi) % 1 for i in range(1, 6)], dtype=torch.float64)
    assert torch.allclose(quantile_sequence(5).double(), golden, atol=1e-7)
    values, q = torch.randn(6, 37), torch.rand(6, 4)
    expected = [np.quantile(v, p) for v, p in zip(values.double().numpy(), q.double().numpy())]
    assert np.allclose(row_quantiles(values, q).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("length", [9, 40, 137])
def test_dilations_agree_with_sktime(length):
    if sk_uni is None:
        pytest.skip("needs sktime and numba (test extra)")
    for features, most in ((10_000, 32), (840, 32), (2000, 4)):
        theirs = sk_uni._fit_dilations(length, features, most)
        assert fit_dilations(length, features, most) == (theirs[0].tolist(), theirs[1].tolist())


@pytest.mark.parametrize("channels", [1, 3])
def test_transform_is_the_papers_definition(channels, path):
    torch.manual_seed(0)
    length = 40
    model = MiniRocket(in_channels=channels, input_size=(length,), num_features=840)
    x = torch.randn(4, channels, length)
    y = torch.tensor([0, 1, 0, 1])
    model.fit(x, y, generator=torch.Generator().manual_seed(1))
    # the channel combinations the fit drew, read back from the kernels' weights
    chosen = [[w.abs().sum(-1).nonzero().flatten().tolist() for w in c.weight] for c in model.convs]
    if channels == 1:
        assert all(s == [0] for per in chosen for s in per)
    else:
        sizes = {len(s) for per in chosen for s in per}
        assert sizes <= {1, 2, 3} and len(sizes) > 1  # 2**u with u in [0, log2(4))
    biases = model.biases.double().numpy()
    x_test = torch.randn(5, channels, length)
    reference = brute_features(
        x_test.numpy(),
        model.dilations,
        model.features_per_dilation,
        biases,
        lambda i, k: chosen[i][k],
    )
    assert_close_features(model.transform(x_test).numpy(), reference, length)


def test_biases_are_quantiles_of_the_chosen_series():
    torch.manual_seed(0)
    length, x = 50, torch.randn(7, 1, 50)
    model = MiniRocket(input_size=(length,), num_features=420)
    model.fit(x, torch.arange(7) % 2, generator=torch.Generator().manual_seed(3))
    replay = torch.Generator().manual_seed(3)  # the fit draws one series per kernel, per dilation
    q = quantile_sequence(model.num_features).double().numpy()
    combos = list(itertools.combinations(range(9), 3))
    f = 0
    for d, count in zip(model.dilations, model.features_per_dilation):
        chosen = torch.randint(0, 7, (84,), generator=replay).tolist()
        for k in range(84):
            w = np.full(9, -1.0)
            w[list(combos[k])] = 2.0
            padded = np.pad(x[chosen[k], 0].double().numpy(), 4 * d)
            c = np.array([w @ padded[t : t + 8 * d + 1 : d] for t in range(length)])
            expected = np.quantile(c, q[f : f + count])
            assert np.allclose(model.biases[f : f + count].numpy(), expected, rtol=1e-5, atol=1e-5)
            f += count


@needs_sktime
def test_transform_agrees_with_sktime_given_its_parameters(path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 1, 73)).astype(np.float32)
    dilations, counts, biases = sk_uni._fit(x[:, 0], 10_000, 32, 0)
    model = MiniRocket(input_size=(73,))
    assert model.dilations == dilations.tolist()
    model.biases.copy_(torch.from_numpy(biases))
    test = rng.standard_normal((9, 1, 73)).astype(np.float32)
    theirs = sk_uni._transform(test[:, 0], (dilations, counts, biases))
    assert_close_features(model.transform(torch.from_numpy(test)).numpy(), theirs, 73)


@needs_sktime
def test_multivariate_transform_agrees_with_sktime_given_its_combinations(path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4, 60)).astype(np.float32)
    per_pair, channels, dilations, counts, biases = sk_multi._fit_multi(x, 10_000, 32, 0)
    model = MiniRocket(in_channels=4, input_size=(60,))
    starts = np.concatenate([[0], np.cumsum(per_pair)])
    for i, layer in enumerate(model.convs):  # sktime's combinations as zero weights
        mask = torch.zeros(NUM_KERNELS, 4, 1)
        for k in range(NUM_KERNELS):
            pair = i * NUM_KERNELS + k
            mask[k, channels[starts[pair] : starts[pair + 1]]] = 1
        layer.weight.copy_(kernel_weights().unsqueeze(1) * mask)
    model.biases.copy_(torch.from_numpy(biases))
    test = rng.standard_normal((5, 4, 60)).astype(np.float32)
    theirs = sk_multi._transform_multi(test, (per_pair, channels, dilations, counts, biases))
    assert_close_features(model.transform(torch.from_numpy(test)).numpy(), theirs, 60)


def _bumps(n, length=60, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, length, generator=g) * 0.5
    y = torch.arange(n) % classes
    for i in range(n):
        start = 5 + 15 * int(y[i])
        x[i, 0, start : start + 8] += 3
    return x, y


@pytest.mark.parametrize("classifier", ["ridge", "logistic"])
def test_both_classifiers_separate_bumps_and_the_scaling_is_folded_in(classifier):
    x, y = _bumps(60)
    model = MiniRocket(num_classes=3, input_size=(60,), num_features=840, classifier=classifier)
    logits, facts = model.fit(x, y, generator=torch.Generator().manual_seed(0))
    assert facts["classifier"] == classifier and facts["features"] == 840
    assert ("alpha" in facts) == (classifier == "ridge")
    assert (logits.argmax(1) == y).float().mean() == 1
    x_test, y_test = _bumps(30, seed=1)
    assert (model(x_test).argmax(1) == y_test).float().mean() >= 0.9
    assert torch.allclose(model(x), logits, atol=1e-4)


def test_ridge_matches_sklearns_pipeline_on_the_same_features():
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _bumps(45)
    x_test, _ = _bumps(30, seed=2)
    model = MiniRocket(num_classes=3, input_size=(60,), num_features=840)
    model.fit(x, y, generator=torch.Generator().manual_seed(0))
    pipeline = make_pipeline(
        StandardScaler(with_mean=False), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))
    ).fit(model.transform(x).double().numpy(), y.numpy())
    features = model.transform(x_test).double().numpy()
    scores = torch.from_numpy(pipeline.decision_function(features)).float()
    assert torch.allclose(model(x_test), scores, atol=1e-3)
    # binary: one score s becomes the logits (-s, s)
    binary = MiniRocket(num_classes=2, input_size=(60,), num_features=840)
    binary.fit(x[y < 2], y[y < 2], generator=torch.Generator().manual_seed(0))
    logits = binary(x_test)
    assert torch.allclose(logits[:, 0], -logits[:, 1])


def test_a_class_missing_from_training_is_never_predicted():
    x, y = _bumps(40, classes=2)
    model = MiniRocket(num_classes=4, input_size=(60,), num_features=840)
    logits, _ = model.fit(x, y, generator=torch.Generator().manual_seed(0))
    assert logits.shape == (40, 4) and set(logits.argmax(1).tolist()) <= {0, 1}
    assert torch.equal(model.classifier.bias[2:], torch.tensor([-1.0, -1.0]))


def test_short_series_are_zero_padded_to_one_kernel_length():
    model = MiniRocket(in_channels=2, input_size=(5,), num_features=168)
    x = torch.randn(3, 2, 5)
    assert model.dilations == [1] and model.transform(x).shape == (3, 168)
    padded = MiniRocket(in_channels=2, input_size=(9,), num_features=168)
    padded.load_state_dict(model.state_dict())
    assert torch.equal(model.transform(x), padded.transform(torch.nn.functional.pad(x, (0, 4))))


def test_fit_is_reproducible_from_the_generator():
    x, y = _bumps(30)
    a, b = (MiniRocket(num_classes=3, input_size=(60,), num_features=840) for _ in range(2))
    for m in (a, b):
        m.fit(x, y, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.biases, b.biases)
    assert torch.equal(a.classifier.weight, b.classifier.weight)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="argument 'num_features' must be an int >= 84"):
        MiniRocket(num_features=50)
    with pytest.raises(ValueError, match="argument 'classifier' must be one of 'auto'"):
        MiniRocket(classifier="svm")
    with pytest.raises(ValueError, match="max_dilations_per_kernel"):
        MiniRocket(max_dilations_per_kernel=0)
    model = MiniRocket(input_size=(30,), num_features=168)
    with pytest.raises(ValueError, match=r"a tensor \(N, 1, 30\).*length 30; got \(2, 1, 31\)"):
        model(torch.randn(2, 1, 31))


def test_ppv_pool_is_the_fraction_above_each_threshold():
    torch.manual_seed(0)
    x = torch.randn(5, 3, 7, 4, dtype=torch.float64)
    b = torch.randn(3, 6, dtype=torch.float64)
    expected = torch.stack(
        [
            torch.stack([(x[n, c] > b[c, j]).double().mean() for j in range(6)])
            for n in range(5)
            for c in range(3)
        ]
    ).view(5, 3, 6)
    assert torch.equal(ppv_pool(x, b), expected)
    with pytest.raises(
        ValueError, match=r"argument 'thresholds' must be a tensor of shape \(C, B\)"
    ):
        ppv_pool(x, b[:2])
    with pytest.raises(TypeError, match="of the input's dtype"):
        ppv_pool(x, b.float())


@pytest.mark.parametrize("block", [1, 16, 100])
def test_ppv_pool_in_blocks_of_samples_and_thresholds(monkeypatch, block):
    # blocks smaller than a sample's comparisons: ppv_count steps through the thresholds too
    import anyconv.functional.pool as pool

    torch.manual_seed(1)
    x, b = torch.randn(7, 2, 9), torch.randn(2, 5)
    whole = ppv_pool(x, b)
    monkeypatch.setattr(pool, "PPV_BLOCK", block)
    assert torch.equal(ppv_pool(x, b), whole)
    assert torch.equal(whole, (x.unsqueeze(-1) > b[:, None]).float().mean(2))


def test_transform_in_blocks_equals_the_whole(monkeypatch):
    # blocks of 2 series (the last one short: 7 series) and comparison steps of a few biases
    import anyconv.models.minirocket as mr

    monkeypatch.setattr(mr, "_numba_kernel", lambda: None)  # the blocks of the PyTorch path
    torch.manual_seed(2)
    model = MiniRocket(input_size=(40,), num_features=840)
    x = torch.randn(7, 1, 40)
    model.fit(x, torch.arange(7) % 2, generator=torch.Generator().manual_seed(0))
    whole = model.transform(x)
    monkeypatch.setattr(mr, "BLOCK_VALUES", 2 * NUM_KERNELS * 40)
    monkeypatch.setattr(mr, "PPV_BLOCK", 3 * NUM_KERNELS * 2 * 40)
    assert torch.equal(model.transform(x), whole)


def test_a_hook_on_a_convolution_sees_its_outputs_and_the_features_stay():
    # feature maps and pictures watch convs[i] by a forward hook: the transform then calls
    # the Conv1d modules themselves; the features are those of the GEMM path
    torch.manual_seed(3)
    model = MiniRocket(input_size=(50,), num_features=840)
    x = torch.randn(5, 1, 50)
    model.fit(x, torch.arange(5) % 2, generator=torch.Generator().manual_seed(0))
    fast = model.transform(x)
    seen = []
    handle = model.convs[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    try:
        watched = model.transform(x)
    finally:
        handle.remove()
    assert seen and all(s[1:] == (NUM_KERNELS, 50) for s in seen)
    torch.testing.assert_close(watched, fast, rtol=0, atol=2 / 42)
    assert (watched != fast).float().mean() < 1e-3


def _both_paths(model, x, monkeypatch):
    import anyconv.models.minirocket as mr

    fast = model.transform(x)
    with monkeypatch.context() as m:
        m.setattr(mr, "_numba_kernel", lambda: None)
        reference = model.transform(x)
    return fast, reference


@pytest.mark.parametrize("channels, dtype", [(1, torch.float32), (3, torch.float32),
                                             (2, torch.float64)])  # fmt: skip
def test_numba_path_equals_the_pytorch_path(channels, dtype, monkeypatch):
    # identical where no output is a rounding away from a bias: series of small integers,
    # biases half-way between integers (every sum exact in both paths); near-ties otherwise
    import anyconv.models.minirocket as mr

    if mr._numba_kernel() is None:
        pytest.skip("needs numba (the timeseries extra)")
    g = torch.Generator().manual_seed(channels)
    model = MiniRocket(in_channels=channels, input_size=(45,), num_features=840).to(dtype)
    x = torch.randn(6, channels, 45, generator=g, dtype=dtype)
    model.fit(x, torch.arange(6) % 2, generator=torch.Generator().manual_seed(0))
    fast, reference = _both_paths(model, x, monkeypatch)
    assert fast.dtype == reference.dtype == dtype
    assert_close_features(fast.numpy(), reference.double().numpy(), 45)
    whole = torch.randint(-6, 7, (5, channels, 45), generator=g).to(dtype)
    model.biases.copy_(model.biases.round() + 0.5)
    fast, reference = _both_paths(model, whole, monkeypatch)
    assert torch.equal(fast, reference)
    assert 0 < fast.mean() < 1


@pytest.mark.slow
def test_numba_path_is_the_same_on_two_threads():
    import anyconv.models.minirocket as mr

    if mr._numba_kernel() is None:
        pytest.skip("needs numba (the timeseries extra)")
    torch.manual_seed(4)
    model = MiniRocket(in_channels=2, num_classes=3, input_size=(70,))
    x = torch.randn(9, 2, 70)
    model.fit(x, torch.arange(9) % 3, generator=torch.Generator().manual_seed(0))
    one = model.transform(x)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        two = model.transform(x)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


@pytest.mark.parametrize("channels", [1, 3])
def test_the_traced_path_equals_the_eager_one_and_compiles_whole(channels, monkeypatch):
    # under torch.compile / torch.export the transform is the definition on whole-batch
    # tensors (the dilated Conv1d modules, masks, a mean of comparisons): the same features
    # as the eager paths, exactly where no output is a rounding away from a bias
    import anyconv.models.minirocket as mr

    g = torch.Generator().manual_seed(channels)
    model = MiniRocket(in_channels=channels, input_size=(45,), num_features=840)
    x = torch.randn(6, channels, 45, generator=g)
    model.fit(x, torch.arange(6) % 2, generator=torch.Generator().manual_seed(0))
    whole = torch.randint(-6, 7, (5, channels, 45), generator=g).float()
    model.biases.copy_(model.biases.round() + 0.5)
    monkeypatch.setattr(mr, "_numba_kernel", lambda: None)
    eager = model.transform(whole)
    with monkeypatch.context() as m:
        m.setattr(mr, "tracing", lambda: True)
        assert torch.equal(model.transform(whole), eager)
    torch._dynamo.reset()
    compiled = torch.compile(model.transform, fullgraph=True, backend="eager")
    assert torch.equal(compiled(whole), eager)
    assert torch.equal(compiled(whole[:3]), eager[:3])  # another batch size
    torch._dynamo.reset()
