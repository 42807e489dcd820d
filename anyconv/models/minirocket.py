"""MiniRocket (Dempster, Schmidt and Webb 2021, "MINIROCKET: A very fast (almost)
deterministic transform for time series classification"): untrained, dilated convolutions
with fixed kernels, PPV pooling, and a linear classifier fitted in closed form.

The transform, as in the paper:

- 84 kernels of length 9: weight -1 everywhere and 2 at three of the nine taps, one
  kernel per choice of the three (``itertools.combinations(range(9), 3)``, in that
  order); their weights sum to 0, so a kernel's output ignores an offset of the series;
- dilations ``floor(2**e)`` for ``e`` evenly spaced in ``[0, log2((L - 1) / 8)]``
  (``max_dilations_per_kernel`` of them, repeats merged), each taking its share of the
  ``num_features`` features (:func:`fit_dilations`);
- at dilation ``d`` every kernel is one output channel of anyconv's dilated 1-D
  convolution with "same" zero padding (``4d`` either side): the 84 kernels of a dilation
  are one :class:`~anyconv.nn.Conv1d` call;
- per kernel and dilation, ``B`` biases, drawn as quantiles of the convolution output of
  one random training series (the quantiles: a low-discrepancy sequence, the fractional
  parts of ``i * golden ratio``);
- PPV pooling (:func:`anyconv.ppv_pool`): the fraction of positions where the output
  exceeds each bias, over the whole (padded) output for half of the kernel/dilation pairs,
  and over the positions the padding does not reach for the other half (alternately);
- multivariate series (``C > 1``): each kernel/dilation pair sums its convolution over a
  random combination of ``2**u`` channels, ``u`` uniform in ``[0, log2(min(C, 9) + 1))``
  (the paper's multivariate variant): here, the kernel's weights on the other channels
  are zero.

With numba installed (the ``timeseries`` extra), the transform of CPU series runs as one
fused compiled loop (:mod:`anyconv.models._minirocket_numba`); the PyTorch path (im2col,
GEMM, :func:`~anyconv.functional.pool.ppv_count`) is the reference and runs otherwise.

The features go to a ridge classifier whose regularisation is chosen by leave-one-out
cross-validation (scikit-learn's ``RidgeClassifierCV``, alphas ``10**-3 .. 10**3``, features
scaled to unit variance first, as sktime's ``RocketClassifier`` does), or, on training
sets of more than :data:`RIDGE_MAX_SAMPLES` series, a logistic regression trained by Adam
on minibatches of standardised features, as the paper does for large data sets. Either
way the scaling is folded into one ``Linear`` layer, whose weights the run folder keeps
with the kernels (channel combinations included) and biases.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from anyconv._checks import check_int, choice, fail
from anyconv._tracing import tracing
from anyconv.functional.algorithms import memory
from anyconv.functional.conv import conv
from anyconv.functional.pool import PPV_BLOCK, ppv_count
from anyconv.models._common import check_common
from anyconv.models.fitted import FittedModel
from anyconv.models.registry import register_model
from anyconv.nn.conv import Conv1d

KERNEL_LENGTH = 9
NUM_KERNELS = 84  # combinations(9, 3)
TAPS = tuple(itertools.combinations(range(KERNEL_LENGTH), 3))
CLASSIFIERS = ("auto", "ridge", "logistic")
RIDGE_ALPHAS = tuple(np.logspace(-3, 3, 10).tolist())
RIDGE_MAX_SAMPLES = 10_000
"""With ``classifier="auto"``, larger training sets get the logistic regression: the ridge's
leave-one-out solve works on the N x N Gram matrix."""
LOGISTIC = {"batch_size": 256, "lr": 1e-3, "max_epochs": 100, "patience": 10, "lr_patience": 5}
"""The paper's logistic regression (its ``softmax.py``): Adam, minibatches of 256, the
learning rate halved after 5 epochs without a better validation loss, stopped after 10,
the best epoch kept."""
BLOCK_VALUES = 1 << 16
"""Convolution outputs (84 x series x L) of one block of :meth:`MiniRocket.transform`: 256 KiB
of float32, so that a block's outputs stay in cache while PPV compares them with each bias."""


def _numba_kernel() -> Any:
    """numba's compiled transform (:func:`anyconv.models._minirocket_numba.ppv_counts`),
    or ``None`` where numba is not installed (then the PyTorch path runs)."""
    try:
        from anyconv.models._minirocket_numba import ppv_counts
    except ImportError:
        return None
    return ppv_counts


def kernel_weights() -> torch.Tensor:
    """MiniRocket's 84 kernels ``(84, 9)``: -1, and 2 at the taps of each 3-combination.

    Example:
        >>> w = kernel_weights()
        >>> w.shape, w[0].tolist(), w.sum(1).unique().tolist()
        (torch.Size([84, 9]), [2.0, 2.0, 2.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0], [0.0])
    """
    w = torch.full((NUM_KERNELS, KERNEL_LENGTH), -1.0)
    w[torch.arange(NUM_KERNELS)[:, None], torch.tensor(TAPS)] = 2.0
    return w


def fit_dilations(
    length: int, num_features: int = 10_000, max_dilations_per_kernel: int = 32
) -> tuple[list[int], list[int]]:
    """The dilations for series of ``length`` (>= 9) and how many features (biases per
    kernel) each takes: ``num_features // 84`` per kernel, spread over up to
    ``max_dilations_per_kernel`` exponentially spaced dilations (the paper's rule).

    Example:
        >>> fit_dilations(150)
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 18], [30, 15, 12, 12, 4, 8, 8, \
4, 4, 4, 3, 3, 3, 3, 3, 3])
    """
    per_kernel = num_features // NUM_KERNELS
    most = min(per_kernel, max_dilations_per_kernel)
    multiplier = per_kernel / most
    exponent = np.log2((length - 1) / (KERNEL_LENGTH - 1))
    spaced = np.logspace(0, exponent, most, base=2).astype(np.int32)
    dilations, counts = np.unique(spaced, return_counts=True)
    counts = (counts * multiplier).astype(np.int32)
    for i in itertools.islice(itertools.cycle(range(len(counts))), per_kernel - counts.sum()):
        counts[i] += 1
    return dilations.tolist(), counts.tolist()


def quantile_sequence(n: int) -> torch.Tensor:
    """The ``n`` quantiles at which biases are drawn: ``(i * golden ratio) mod 1`` for
    ``i = 1..n`` (a low-discrepancy sequence), float32.

    Example:
        >>> quantile_sequence(3)
        tensor([0.6180, 0.2361, 0.8541])
    """
    phi = (np.sqrt(5) + 1) / 2
    return torch.from_numpy(((np.arange(1, n + 1) * phi) % 1).astype(np.float32))


def row_quantiles(values: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Quantiles ``q[r]`` of each row ``values[r]`` (numpy's default, linear interpolation
    between the order statistics), computed in float64: ``(R, L), (R, B) -> (R, B)``.

    Example:
        >>> row_quantiles(torch.tensor([[3.0, 1.0, 2.0, 4.0]]), torch.tensor([[0.0, 0.5, 0.9]]))
        tensor([[1.0000, 2.5000, 3.7000]])
    """
    ordered = values.double().sort(dim=-1).values
    position = q.double() * (values.shape[-1] - 1)
    lo = position.floor().long().clamp(max=values.shape[-1] - 1)
    hi = (lo + 1).clamp(max=values.shape[-1] - 1)
    t = position - lo
    a, b = ordered.gather(-1, lo), ordered.gather(-1, hi)
    # numpy's lerp: exact at t = 1 as at t = 0
    out = torch.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)
    return out.to(values.dtype)


@register_model(
    "minirocket",
    "MiniRocket (Dempster et al. 2021): 84 fixed dilated kernels, PPV pooling and a ridge "
    "classifier, fitted without epochs; sequences (C, L), multivariate too",
    input_shape=(1, 128),
)
class MiniRocket(FittedModel):
    """MiniRocket's transform and its linear classifier (see the module's docstring).

    ==================================  =========================================
    stage                               output
    ==================================  =========================================
    series (zero-padded to 9 if short)  C x L
    ``convs[i]``: 84 kernels, dilation  84 x L per dilation (``dilations[i]``)
    PPV against the biases              ``num_features`` (84 x biases per kernel)
    ``classifier``: linear              num_classes
    ==================================  =========================================

    Built with zero biases and classifier; :meth:`fit` draws the biases (and the channel
    combinations) and fits the classifier, which ``anyconv train minirocket`` does in one
    pass, with no epochs. The kernels, combinations, biases and classifier are the
    model's parameters and buffers, so a run folder restores the fitted model.

    Args:
        in_channels, num_classes: channels of a series and classes.
        input_size: ``(L,)``, the length of every series (the dilations depend on it).
        num_features: features of the transform, rounded down to a multiple of 84.
        max_dilations_per_kernel: the most dilations.
        classifier: ``"ridge"`` (cross-validated ridge), ``"logistic"`` (logistic
            regression by Adam) or ``"auto"`` (ridge up to :data:`RIDGE_MAX_SAMPLES`
            training series).

    Attributes:
        dilations, features_per_dilation: the dilations and the biases per kernel of each.
        biases: ``(num_features,)`` in the order of the features.

    Shapes:
        input ``(N, in_channels, L)`` -> logits ``(N, num_classes)``; :meth:`transform`:
        ``(N, num_features)``.

    Example:
        >>> _ = torch.manual_seed(0); x = torch.randn(20, 1, 60); y = torch.arange(20) % 2
        >>> x[y == 1, :, 20:30] += 3  # a bump marks class 1
        >>> model = MiniRocket(num_classes=2, input_size=(60,))
        >>> logits, facts = model.fit(x, y, generator=torch.Generator().manual_seed(0))
        >>> logits.shape, (logits.argmax(1) == y).all().item(), model.num_features
        (torch.Size([20, 2]), True, 9996)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 2,
        input_size: tuple[int] = (128,),
        num_features: int = 10_000,
        max_dilations_per_kernel: int = 32,
        classifier: str = "auto",
    ) -> None:
        super().__init__()
        func = type(self).__name__
        (length,) = check_common(in_channels, num_classes, input_size, 1, func)
        check_int(num_features, "num_features", func, minimum=NUM_KERNELS)
        check_int(max_dilations_per_kernel, "max_dilations_per_kernel", func, minimum=1)
        self.classifier_kind = choice(classifier, CLASSIFIERS, "classifier", func)
        self.in_channels, self.num_classes, self.input_length = in_channels, num_classes, length
        self.length = max(length, KERNEL_LENGTH)  # shorter series are zero-padded to 9
        self.dilations, self.features_per_dilation = fit_dilations(
            self.length, num_features, max_dilations_per_kernel
        )
        self.num_features = NUM_KERNELS * sum(self.features_per_dilation)
        weight = kernel_weights().unsqueeze(1).expand(-1, in_channels, -1)
        self.convs = torch.nn.ModuleList()
        for d in self.dilations:
            layer = Conv1d(in_channels, NUM_KERNELS, KERNEL_LENGTH, dilation=d, padding="same",
                           bias=False)  # fmt: skip
            layer.weight.requires_grad_(False)
            layer.weight.copy_(weight)
            self.convs.append(layer)
        self.register_buffer("biases", torch.zeros(self.num_features))
        self.classifier = torch.nn.Linear(self.num_features, num_classes)
        for p in self.classifier.parameters():
            p.requires_grad_(False)
            p.zero_()

    def extra_repr(self) -> str:
        return (
            f"num_features={self.num_features}, dilations={self.dilations}, "
            f"classifier={self.classifier_kind!r}"
        )

    # -- the transform -----------------------------------------------------------------

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if (
            not isinstance(x, torch.Tensor)
            or x.dim() != 3
            or x.shape[1:]
            != (
                self.in_channels,
                self.input_length,
            )
        ):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise fail(
                type(self).__name__,
                "input",
                f"a tensor (N, {self.in_channels}, {self.input_length}): the model's dilations "
                f"and biases were made for series of length {self.input_length}",
                shape,
            )
        if self.length > self.input_length:
            x = F.pad(x, (0, self.length - self.input_length))
        return x

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """MiniRocket's features ``(N, num_features)`` of series ``(N, C, L)``, in the
        paper's order (dilation, then kernel, then bias); see :meth:`_features` for how."""
        return self._features(self._check(x))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`transform` of series already checked and padded.

        With numba installed (the ``timeseries`` extra), CPU float series that no hook
        watches go through one fused, compiled loop (:func:`_numba_features`). Otherwise,
        the PyTorch path below (the reference; the numba loop's features equal its own but
        for near-ties, an output a float32 rounding away from a bias), in blocks of series.

        Per block and dilation ``d``: the 9 shifted copies of the block's (once zero-padded)
        series are gathered into columns ``(C * 9, nb * L)`` and one GEMM with the 84
        kernels' weights ``(84, C * 9)`` gives every output (the convolution of ``convs``
        as im2col + GEMM, without a per-call dispatch). The kernels that pool only the
        positions ``4d`` in from either end get ``-FLT_MAX`` added at the others (one
        ``addcmul``), so that every kernel's PPV counts over the whole output: then
        :func:`~anyconv.functional.pool.ppv_count` counts the outputs above each bias.
        A block (:data:`BLOCK_VALUES` outputs) and the comparison masks
        (:data:`~anyconv.functional.pool.PPV_BLOCK`) are sized to stay in a core's cache,
        and every buffer is allocated once per call. The counts become fractions at the end.
        While a forward hook watches one of ``convs`` (feature maps, pictures, the tracer),
        each dilation's outputs come from calling that ``Conv1d`` instead, the same values
        (a test checks) a little slower, so that the hook sees them.

        Computed in float32 whatever ``torch.autocast`` says: the features count outputs
        above float32 biases.
        """
        if tracing():  # torch.compile / torch.export: the definition, whole-batch tensors
            return self._traced_features(x)
        watched = any(layer._forward_hooks or layer._forward_pre_hooks for layer in self.convs)
        kernel = None if watched or x.device.type != "cpu" else _numba_kernel()
        if kernel is not None and x.dtype in (torch.float32, torch.float64):
            return self._numba_features(kernel, x)
        n, channels, length = x.shape
        block = max(1, min(n, BLOCK_VALUES // (NUM_KERNELS * length)))
        blocks = -(-n // block)
        taps = channels * KERNEL_LENGTH
        reach = (KERNEL_LENGTH - 1) // 2 * self.dilations[-1]  # the widest padding
        padded = F.pad(x, (reach, reach))
        if blocks * block > n:  # whole blocks: the last one's extra series are zeros
            padded = F.pad(padded, (0, 0, 0, 0, 0, blocks * block - n))
        padded = padded.view(blocks, block, channels, -1)
        cols = x.new_empty(channels, KERNEL_LENGTH, block, length)
        flat_cols = cols.view(taps, block * length)
        out = x.new_empty(NUM_KERNELS, block, length)
        flat_out = out.view(NUM_KERNELS, block * length)
        scratch = x.new_empty(max(PPV_BLOCK, out.numel()))
        features = x.new_empty(blocks, block, self.num_features)
        # per dilation: weights, biases (B, 84, 1, 1), the -FLT_MAX rows, the counts' views
        steps = []
        inner_rows = torch.zeros(NUM_KERNELS, 1, 1, dtype=x.dtype, device=x.device)
        offset = 0
        biases = self._biases_by_dilation()
        for i, (d, layer, b) in enumerate(zip(self.dilations, self.convs, biases, strict=True)):
            pad = (KERNEL_LENGTH - 1) // 2 * d
            edges = torch.zeros(1, 1, length, dtype=x.dtype, device=x.device)
            edges[..., :pad] = edges[..., length - pad :] = torch.finfo(x.dtype).min
            inner = inner_rows.clone()
            inner[1 - i % 2 :: 2] = 1.0
            size = NUM_KERNELS * b.shape[1]
            target = features[..., offset : offset + size].view(blocks, block, NUM_KERNELS, -1)
            weight = layer.weight.reshape(NUM_KERNELS, taps)
            steps.append((layer, d, pad, weight, b.t()[..., None, None], inner, edges,
                          target.permute(0, 3, 2, 1)))  # fmt: skip
            offset += size
        counts = x.new_empty(max(self.features_per_dilation), NUM_KERNELS, block)
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            for index in range(blocks):
                series = padded[index]
                for layer, d, pad, weight, limits, inner, edges, target in steps:
                    if watched:  # the module itself, so that its hooks see its output
                        out.copy_(layer(series[..., reach : reach + length]).transpose(0, 1))
                    else:
                        window = series[..., reach - pad : reach + pad + length]
                        cols.copy_(window.unfold(2, length, d).permute(1, 2, 0, 3))
                        torch.mm(weight, flat_cols, out=flat_out)
                    out.addcmul_(inner, edges)
                    c = counts[: len(limits)]
                    ppv_count(out, limits, c, scratch)
                    target[index].copy_(c)
        return features.view(blocks * block, -1)[:n].div_(self._positions())

    def _traced_features(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`_features` as a tracer can follow it (``torch.compile``, ``torch.export``,
        ONNX): no numba, no blocks that depend on the batch size, no writes into buffers.
        Per dilation, all 84 kernels in one call of the dilated convolution (its module),
        the padded positions of the kernels that leave the padding out set to the lowest
        float, and PPV as the mean of ``output > bias`` over the positions, for every bias
        at once: the same features as the eager paths."""
        length = x.shape[-1]
        parts = []
        with torch.autocast(x.device.type, enabled=False):
            biases = self._biases_by_dilation()
            for i, (d, layer, b) in enumerate(zip(self.dilations, self.convs, biases, strict=True)):
                pad = (KERNEL_LENGTH - 1) // 2 * d
                position = torch.arange(length, device=x.device)
                outside = (position < pad) | (position >= length - pad)
                inner = torch.zeros(NUM_KERNELS, 1, dtype=torch.bool, device=x.device)
                inner[1 - i % 2 :: 2] = True
                out = layer(x)
                lowest = torch.finfo(out.dtype).min
                out = out.masked_fill(inner & outside, lowest)  # (N, 84, L)
                above = out.unsqueeze(2) > b.to(out.dtype).unsqueeze(-1)  # (N, 84, B, L)
                parts.append(above.sum(-1, dtype=out.dtype).flatten(1))
        features = torch.cat(parts, dim=1)
        return features / self._positions().to(features.dtype)

    def _numba_features(self, kernel: Any, x: torch.Tensor) -> torch.Tensor:
        """:meth:`_features` by numba's fused loop (``kernel``, see
        :mod:`anyconv.models._minirocket_numba`): per series and dilation the 9 shifted
        copies once, each kernel's output as ``-A + 3 * (its three copies)`` and its PPV
        counts in the same pass; the series in parallel on ``torch.get_num_threads()``
        threads (numba's own limit permitting)."""
        import numba

        threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS, len(x)))
        if threads > 1:
            numba.set_num_threads(threads)
        dtype = x.dtype
        series = x.detach().contiguous().numpy()
        mask = torch.stack([layer.weight.detach().abs().sum(-1) != 0 for layer in self.convs])
        counts = np.empty((len(x), self.num_features), series.dtype)
        kernel(
            series,
            mask.to(torch.uint8).numpy(),
            np.array(TAPS, np.int64),
            np.array(self.dilations, np.int64),
            np.array(self.features_per_dilation, np.int64),
            self.biases.detach().to(dtype).numpy(),
            counts,
            threads,
        )
        return torch.from_numpy(counts).div_(self._positions().to(dtype))

    def _positions(self) -> torch.Tensor:
        """The positions each feature's PPV pools over ``(num_features,)``: the whole length,
        or the length less ``8d`` (the kernels that leave the padding out)."""
        parts = []
        for i, (d, b) in enumerate(zip(self.dilations, self.features_per_dilation, strict=True)):
            part = torch.full((NUM_KERNELS, b), float(self.length))
            part[1 - i % 2 :: 2] -= (KERNEL_LENGTH - 1) * d
            parts.append(part.flatten())
        return torch.cat(parts).to(self.biases)

    def _biases_by_dilation(self) -> list[torch.Tensor]:
        sizes = [NUM_KERNELS * b for b in self.features_per_dilation]
        return [
            part.view(NUM_KERNELS, b)
            for part, b in zip(self.biases.split(sizes), self.features_per_dilation, strict=True)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.transform(x))

    # -- fitting -----------------------------------------------------------------------

    def fit(
        self, x: torch.Tensor, y: torch.Tensor, *, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Draw the channel combinations and biases from the training series ``x`` and fit
        the classifier to their features; returns the training logits and the facts of the
        fit (the classifier, its regularisation, the seconds of each stage).

        Every random choice (the series whose outputs give each kernel's biases, the
        channel combinations) comes from ``generator``.
        """
        x = self._check(x)
        if len(y) != len(x):
            raise fail("MiniRocket.fit", "y", f"{len(x)} labels, one per series", len(y))
        start = time.perf_counter()
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            if self.in_channels > 1:
                self._draw_combinations(generator)
            self._fit_biases(x, generator)
        memory.check_allocation(
            4 * len(x) * self.num_features, f"MiniRocket's features of {len(x):,} series"
        )
        features = self._features(x)
        transformed = time.perf_counter()
        kind = self.classifier_kind
        if kind == "auto":
            kind = "ridge" if len(x) <= RIDGE_MAX_SAMPLES else "logistic"
        if kind == "ridge":
            weight, bias, facts = _fit_ridge(features, y, self.num_classes)
        else:
            weight, bias, facts = _fit_logistic(features, y, self.num_classes, generator)
        with torch.no_grad():
            self.classifier.weight.copy_(weight)
            self.classifier.bias.copy_(bias)
            logits = self.classifier(features)
        return logits, {
            "classifier": kind,
            **facts,
            "features": self.num_features,
            "dilations": list(self.dilations),
            "transform_seconds": transformed - start,
            "classifier_seconds": time.perf_counter() - transformed,
        }

    def _draw_combinations(self, generator: torch.Generator) -> None:
        """Each kernel/dilation pair's channels: ``2**u`` of them, ``u`` uniform in
        ``[0, log2(min(C, 9) + 1))``, drawn without replacement; the kernel's weights on
        the others become 0."""
        channels = self.in_channels
        exponent = math.log2(min(channels, KERNEL_LENGTH) + 1)
        pairs = len(self.dilations) * NUM_KERNELS
        counts = (
            2 ** (torch.rand(pairs, generator=generator, dtype=torch.float64) * exponent)
        ).long()
        mask = torch.zeros(pairs, channels)
        for pair, count in enumerate(counts.tolist()):
            mask[pair, torch.randperm(channels, generator=generator)[:count]] = 1.0
        weights = kernel_weights().unsqueeze(1) * mask.view(-1, NUM_KERNELS, channels, 1)
        for layer, w in zip(self.convs, weights, strict=True):
            layer.weight.copy_(w)

    def _fit_biases(self, x: torch.Tensor, generator: torch.Generator) -> None:
        """Per dilation, one random training series per kernel, convolved with that kernel
        alone (one grouped convolution of all 84 at once); its output's quantiles at the
        low-discrepancy sequence are the kernel's biases."""
        q = quantile_sequence(self.num_features).to(x.device)
        offset, parts = 0, []
        for layer, d, b in zip(self.convs, self.dilations, self.features_per_dilation, strict=True):
            chosen = torch.randint(0, len(x), (NUM_KERNELS,), generator=generator)
            series = x[chosen.to(x.device)].reshape(1, NUM_KERNELS * self.in_channels, -1)
            out = conv(series, layer.weight, dilation=d, padding="same", groups=NUM_KERNELS)
            size = NUM_KERNELS * b
            parts.append(row_quantiles(out[0], q[offset : offset + size].view(NUM_KERNELS, b)))
            offset += size
        self.biases.copy_(torch.cat([p.flatten() for p in parts]))


def _fit_ridge(
    features: torch.Tensor, y: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """``RidgeClassifierCV`` on the features scaled to unit variance (sktime's
    ``StandardScaler(with_mean=False)``), the scale folded into the weights. A binary
    ridge's one score ``s`` gives the logits ``(-s, s)``; a class absent from the training
    split gets the score of a target that is always -1."""
    from sklearn.linear_model import RidgeClassifierCV

    f64 = features.double().cpu()
    scale = f64.std(0, unbiased=False)
    scale = torch.where(scale < 10 * torch.finfo(torch.float64).eps, 1.0, scale)
    ridge = RidgeClassifierCV(alphas=np.array(RIDGE_ALPHAS)).fit(
        (f64 / scale).numpy(), y.cpu().numpy()
    )
    coef = torch.from_numpy(np.atleast_2d(ridge.coef_))  # binary: (F,) in newer releases
    intercept = torch.from_numpy(np.atleast_1d(ridge.intercept_))
    if coef.shape[0] == 1:
        coef, intercept = torch.cat([-coef, coef]), torch.cat([-intercept, intercept])
    weight = torch.zeros(num_classes, features.shape[1], dtype=torch.float64)
    bias = torch.full((num_classes,), -1.0, dtype=torch.float64)
    classes = torch.from_numpy(ridge.classes_.astype(np.int64))
    weight[classes], bias[classes] = coef / scale, intercept
    facts = {"alpha": float(ridge.alpha_), "alphas": list(RIDGE_ALPHAS)}
    return weight.to(features), bias.to(features), facts


def _fit_logistic(
    features: torch.Tensor, y: torch.Tensor, num_classes: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """A logistic regression on standardised features, by Adam on minibatches (the paper's
    recipe, :data:`LOGISTIC`), validated on a tenth of the training split (at most 2,048
    series) and kept at its best epoch; the standardisation folded into the weights."""
    f64 = features.double()
    mean, std = f64.mean(0), f64.std(0, unbiased=False)
    std = torch.where(std < 10 * torch.finfo(torch.float64).eps, 1.0, std)
    z = ((f64 - mean) / std).to(features.dtype)
    n = len(y)
    order = torch.randperm(n, generator=generator).to(features.device)
    held = min(2048, n // 10)
    val, train = order[:held], order[held:]
    linear = torch.nn.Linear(features.shape[1], num_classes).to(features)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    optimizer = torch.optim.Adam(linear.parameters(), lr=LOGISTIC["lr"])
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=LOGISTIC["lr_patience"], min_lr=1e-8
    )
    watch = val if held else train
    best, best_state, since, epochs = math.inf, None, 0, 0
    for epochs in range(1, LOGISTIC["max_epochs"] + 1):  # noqa: B007 (reported)
        shuffled = train[torch.randperm(len(train), generator=generator).to(train.device)]
        with torch.enable_grad():
            for start in range(0, len(shuffled), LOGISTIC["batch_size"]):
                index = shuffled[start : start + LOGISTIC["batch_size"]]
                loss = F.cross_entropy(linear(z[index]), y[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            watched = F.cross_entropy(linear(z[watch]), y[watch]).item()
        schedule.step(watched)
        if watched < best:
            best, since = watched, 0
            best_state = {k: v.detach().clone() for k, v in linear.state_dict().items()}
        else:
            since += 1
            if since >= LOGISTIC["patience"]:
                break
    linear.load_state_dict(best_state)
    w = linear.weight.detach().double() / std
    b = linear.bias.detach().double() - w @ mean
    facts = {"epochs": epochs, "validation_loss": best, "validation_series": held}
    return w.to(features), b.to(features), facts
