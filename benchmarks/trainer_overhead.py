"""Trainer overhead: one training epoch with anyconv's trainer vs a plain PyTorch loop.

Same model (same initial weights), data, batch size, optimiser (AdamW) and learning-rate
schedule handling; no augmentation. The trainer's epoch is ``Trainer.train_epoch`` --
shuffling, per-step LR, NaN checks and metrics included, evaluation and checkpoint
writing excluded (the plain loop has neither). Epochs alternate between the two loops and
the medians are compared, so drift in machine load hits both alike.

    python benchmarks/trainer_overhead.py --model lenet5 --data idx:../shared/datasets/mnist
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def plain_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """The loop one writes by hand: shuffle, slice, forward, backward, step."""
    start = time.perf_counter()
    model.train()
    order = torch.randperm(len(x), generator=generator).to(x.device)
    for i in range(0, len(x), batch_size):
        index = order[i : i + batch_size]
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per loop")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="tile the training split (small data sets give noisy epochs)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from anyconv.data import load_dataset
    from anyconv.models import create_model
    from anyconv.train import TrainConfig, Trainer

    data = load_dataset(args.data)
    if args.repeat > 1:
        data.x_train = data.x_train.repeat(args.repeat, *[1] * (data.x_train.ndim - 1))
        data.y_train = data.y_train.repeat(args.repeat)
    config = TrainConfig(
        model=args.model,
        data=args.data,
        epochs=args.epochs + 1,
        batch_size=args.batch_size,
        device=args.device,
        augment=False,  # the plain loop does not augment either
        val_fraction=0,  # nor hold out a validation split: both loops see every sample
        quiet=True,
        pictures=False,
        out="/dev/null/unused",
    )
    trainer = Trainer(config, data)
    device = trainer.device
    kwargs = trainer.model_kwargs
    torch.manual_seed(config.seed)
    model = create_model(args.model, **kwargs).to(device)
    model.load_state_dict(trainer.model.state_dict())
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    x, y = data.x_train.to(device), data.y_train.to(device)
    generator = torch.Generator().manual_seed(0)

    # One warm-up epoch each (allocator, kernels, lazy init), then alternate.
    plain_epoch(model, optimizer, x, y, args.batch_size, generator)
    trainer.train_epoch(1)
    plain, ours = [], []
    for epoch in range(2, args.epochs + 2):
        plain.append(plain_epoch(model, optimizer, x, y, args.batch_size, generator))
        ours.append(trainer.train_epoch(epoch)["seconds"])
    p, o = statistics.median(plain), statistics.median(ours)
    print(
        f"model {args.model}, data {args.data} ({len(x)} training samples), batch "
        f"{args.batch_size}, device {device}, threads {torch.get_num_threads()}"
    )
    print(
        f"plain PyTorch loop : {p:8.3f} s/epoch (median of {len(plain)}: "
        + ", ".join(f"{t:.3f}" for t in plain)
        + ")"
    )
    print(
        f"anyconv trainer    : {o:8.3f} s/epoch (median of {len(ours)}: "
        + ", ".join(f"{t:.3f}" for t in ours)
        + ")"
    )
    print(f"ratio trainer/plain: {o / p:8.3f}  (overhead {100 * (o / p - 1):+.1f}%)")


if __name__ == "__main__":
    main()
