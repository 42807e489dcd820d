"""What an algorithm is, and how callers find one: the registry of plug-ins.

An algorithm is a function ``(x, weight, bias, spec) -> y`` (see the package docstring)
registered under a name with what callers need to know about it, so that no caller tests
names:

- ``check``: why it cannot run a :class:`Problem` (a limit of its own, e.g. the matrix's
  number of nonzeros), or ``None``;
- ``memory``: the bytes its forward pass allocates at its peak, checked against
  :func:`anyconv.functional.algorithms.memory.memory_limit` before anything is allocated;
- ``cost``: a model cost, which makes it a candidate of ``"auto"``;
- ``select``: for an algorithm that only dispatches (``"auto"``), the one it would run;
- ``tiled``: a fused implementation of the phases of a tiled convolution
  (:func:`anyconv.tiled_conv`), if it has one;
- ``transpose``: the transposed convolution (:func:`anyconv.conv_transpose`), the adjoint of
  its convolution, if it has one.

A transposed problem is a :class:`Problem` with ``transposed=True`` that describes the
convolution whose adjoint is wanted (its input is the transposed convolution's output), so
that the hooks (memory, cost) look at the same tensors with input and output exchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from anyconv._checks import choice
from anyconv.functional.algorithms import memory
from anyconv.functional.algorithms.empty import conv_empty, conv_transpose_empty, is_empty
from anyconv.padding import ConvSpec

AlgorithmFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, ConvSpec], torch.Tensor]


class Problem(NamedTuple):
    """Everything a capability check, a memory estimate or a cost model may look at."""

    x_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    spec: ConvSpec
    dtype: torch.dtype
    device: torch.device
    training: bool
    """A backward pass will follow (a gradient is recorded for the input or the weight)."""
    transposed: bool = False
    """The adjoint of this convolution is wanted (:func:`anyconv.conv_transpose`): it maps
    an operand of the output's shape to one of ``x_shape``."""

    @classmethod
    def of(
        cls, x: torch.Tensor, weight: torch.Tensor, spec: ConvSpec, transposed: bool = False
    ) -> Problem:
        """The problem of ``x`` and ``weight``; for ``transposed``, ``x`` is the transposed
        convolution's input and ``spec`` its convolution's (:func:`anyconv.padding.
        transposed_spec`)."""
        training = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
        x_shape = tuple(x.shape)
        if transposed:
            x_shape = (x_shape[0], weight.shape[1] * spec.groups, *spec.in_shape)
        return cls(x_shape, tuple(weight.shape), spec, x.dtype, x.device, training, transposed)

    @property
    def operand_shape(self) -> tuple[int, ...]:
        """The shape of the tensor the algorithm receives."""
        if self.transposed:
            return (self.x_shape[0], self.weight_shape[0], *self.spec.out_shape)
        return self.x_shape

    @property
    def result_shape(self) -> tuple[int, ...]:
        """The shape of the tensor the algorithm returns."""
        if self.transposed:
            return self.x_shape
        return (self.x_shape[0], self.weight_shape[0], *self.spec.out_shape)


@dataclass(frozen=True)
class Algorithm:
    """A registered algorithm. Calling it runs ``run``."""

    name: str
    run: AlgorithmFn
    summary: str
    """One line for the documentation and ``anyconv algorithms``."""
    check: Callable[[Problem], str | None] | None = None
    """The reason it refuses a problem (completing "algorithm=NAME ..."), or ``None``."""
    memory: Callable[[Problem], int] | None = None
    """Estimated peak bytes of the forward pass (inputs not counted)."""
    cost: Callable[[Problem], float] | None = None
    """Model cost in the units of :mod:`~anyconv.functional.algorithms.auto` (``inf``: never
    worth it for this problem). Only algorithms with a cost are candidates of ``"auto"``."""
    select: Callable[[Problem], Algorithm] | None = None
    """For a dispatcher: the algorithm it runs for this problem."""
    tiled: AlgorithmFn | None = None
    """Fused phases of a tiled convolution, taking weights ``(O, C/g, *kernel, *tiles)``."""
    transpose: AlgorithmFn | None = None
    """The adjoint ``(y, weight, bias, spec) -> x``: ``y`` ``(N, O, *spec.out_shape)``, the
    weight in the convolution's layout ``(O, C/g, *kernel)`` (PyTorch's transposed layout),
    ``bias`` ``(C,)``, ``x`` ``(N, C, *spec.in_shape)``."""

    def __call__(self, x, weight, bias, spec: ConvSpec) -> torch.Tensor:
        return self.run(x, weight, bias, spec)

    def runner(self, problem: Problem) -> AlgorithmFn:
        """The function that computes ``problem``: ``transpose`` for a transposed one."""
        return self.transpose if problem.transposed else self.run

    def resolve(self, problem: Problem) -> Algorithm:
        """The algorithm that actually runs: ``select``'s answer for a dispatcher, else self."""
        return self.select(problem) if self.select is not None else self


EMPTY = Algorithm(
    "empty",
    conv_empty,
    "the closed form of a zero-size problem",
    transpose=conv_transpose_empty,
)
"""What :func:`prepare` answers for every zero-size problem (not a registered name)."""

ALGORITHMS: dict[str, Algorithm] = {}
"""Name -> :class:`Algorithm`, in registration order (``"auto"`` first)."""


def register(algorithm: Algorithm) -> Algorithm:
    """Add ``algorithm`` under its name; a name is registered once."""
    if algorithm.name in ALGORITHMS:
        raise ValueError(f"register(): algorithm {algorithm.name!r} is already registered")
    ALGORITHMS[algorithm.name] = algorithm
    return algorithm


def get_algorithm(name: str, func: str = "conv") -> Algorithm:
    """The algorithm registered under ``name``; a clear error for an unknown one."""
    return ALGORITHMS[choice(name, tuple(ALGORITHMS), "algorithm", func)]


def list_algorithms() -> list[str]:
    """Names accepted by ``algorithm=`` (``"auto"`` first).

    Example:
        >>> list_algorithms()
        ['auto', 'native', 'direct', 'im2col', 'fft', 'matrix']
    """
    return list(ALGORITHMS)


def refusal(algorithm: Algorithm, problem: Problem) -> str | None:
    """Why ``algorithm`` will not run ``problem`` (completing "algorithm=NAME ..."): its own
    check, then its memory estimate against :func:`~.memory.memory_limit`; else ``None``."""
    if problem.transposed and algorithm.transpose is None:
        return "has no transposed form"
    if algorithm.check is not None:
        reason = algorithm.check(problem)
        if reason is not None:
            return reason
    if algorithm.memory is not None:
        limit = memory.memory_limit(problem.device)
        if limit is not None:
            need = algorithm.memory(problem)
            if need > limit:
                return (
                    f"would need about {memory.human_bytes(need)} for its forward pass, "
                    f"above {memory.describe_limit(problem.device)}"
                )
    return None


def check_size(problem: Problem, func: str = "conv") -> bool:
    """The checks every algorithm shares, before anything is allocated (the extents,
    strides and dilations were bounded when the spec was resolved, by
    :data:`anyconv.padding.MAX_EXTENT`): the output within the memory limit, and no border
    to extend on an empty axis. Returns whether the problem has zero size (its answer is
    then :data:`EMPTY`'s whatever the algorithm)."""
    limit = memory.memory_limit(problem.device)
    out = memory.nbytes(problem.result_shape, problem.dtype)
    if limit is not None and out > limit:
        shape = problem.result_shape
        raise ValueError(
            f"{func}(): the output of shape {shape} would take {memory.human_bytes(out)}, "
            f"above {memory.describe_limit(problem.device)}; check the padding (resolved "
            f"to {problem.spec.padding}), dilation and stride"
        )
    if not is_empty(problem.operand_shape, problem.weight_shape, problem.result_shape):
        return False
    spatial = problem.x_shape[2:]
    if problem.spec.padding_mode != "zeros" and 0 in spatial:
        raise ValueError(
            f"{func}(): argument 'padding_mode'={problem.spec.padding_mode!r} needs input "
            f"elements to extend, but spatial axis {spatial.index(0)} of the input "
            f"{problem.x_shape} is empty; use padding_mode='zeros'"
        )
    return True


def prepare(name: str, problem: Problem, func: str = "conv") -> Algorithm:
    """The algorithm that runs ``problem`` for ``algorithm=name`` (a dispatcher resolved),
    after the shared checks (:func:`check_size`) and its own, before anything is allocated:
    anyconv's ``ValueError`` when it refuses the problem, naming the algorithms that would
    accept it. A zero-size problem gets :data:`EMPTY`, the one answer of every algorithm
    (:mod:`~anyconv.functional.algorithms.empty`)."""
    entry = get_algorithm(name, func)
    if check_size(problem, func):
        return EMPTY
    algorithm = entry.resolve(problem)
    reason = refusal(algorithm, problem)
    if reason is not None:
        runs = f" (which runs {algorithm.name!r} here)" if algorithm.name != name else ""
        others = [
            repr(a.name)
            for a in ALGORITHMS.values()
            if a.select is None and a is not algorithm and refusal(a, problem) is None
        ]
        hint = f"a smaller problem or another algorithm ({', '.join(others)})"
        raise ValueError(
            f"{func}(): argument 'algorithm'={name!r}{runs} {reason}; "
            f"use {hint if others else 'a smaller problem'}"
        )
    return algorithm


def candidates(problem: Problem | None = None) -> list[Algorithm]:
    """The algorithms ``"auto"`` chooses from: those with a cost model (and a transposed
    form, for a transposed ``problem``)."""
    transposed = problem is not None and problem.transposed
    return [
        a
        for a in ALGORITHMS.values()
        if a.cost is not None and (a.transpose is not None or not transposed)
    ]


def describe(indent: str = "") -> str:
    """One bullet per algorithm, ``- "name": summary`` (for docstrings).

    Example:
        >>> print(describe().splitlines()[0][:23])
        - ``"auto"``: picks the
    """
    return "\n".join(f'{indent}- ``"{a.name}"``: {a.summary}' for a in ALGORITHMS.values())


def document_algorithms(func: Callable) -> Callable:
    """Decorator: replace the docstring line that holds ``{algorithm_list}`` by one bullet per
    registered algorithm (:func:`describe`) at that line's indentation."""
    doc = func.__doc__ or ""
    for line in doc.splitlines():
        if "{algorithm_list}" in line:
            indent = line[: len(line) - len(line.lstrip())]
            func.__doc__ = doc.replace(line, describe(indent))
            break
    return func
