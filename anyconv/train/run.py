"""The run folder: metrics, weights, config, pictures; and :func:`load_run` to reopen it.

::

    RUN_DIR/
      config.json        everything to rebuild the model (name, kwargs, data, class names)
      model.safetensors  the weights (safetensors: loading never unpickles)
      checkpoint.pt      the last epoch's full state, for --resume (weights_only loadable)
      metrics.json       final figures and the per-epoch history
      metrics.csv        the history, one row per epoch
      history.png, confusion.png, filters.png, feature_maps.png
      cam.png            class activation maps, for networks that support them (fcn, resnet1d)
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from anyconv.train.checkpoint import CONFIG, METRICS, METRICS_CSV, WEIGHTS, save_weights, write_json
from anyconv.train.metrics import summarize, write_csv

if TYPE_CHECKING:
    from anyconv.train.trainer import Trainer

PICTURES = ("history.png", "confusion.png", "filters.png", "feature_maps.png")


def run_config(trainer: Trainer) -> dict[str, Any]:
    """What ``config.json`` holds: enough to rebuild the model and read its outputs."""
    data = trainer.data
    return {
        "model": trainer.config.model,
        "model_kwargs": trainer.model_kwargs,
        "data": trainer.config.data,
        "data_name": data.name,
        "kind": data.kind,
        "input_shape": list(data.input_shape),
        "num_classes": data.num_classes,
        "class_names": list(data.class_names),
        # [h-data] what evaluate/predict must repeat: the held-out split, the transform
        "data_options": {
            **{
                k: v
                for k, v in trainer.config.data_options().items()
                if k not in ("stream", "workers")  # how, not what: machine-specific
            },
            **(data.options() if hasattr(data, "options") else {}),
        },
        "train": trainer.config.to_dict(),
    }


def run_metrics(trainer: Trainer, status: str, **extra: Any) -> dict[str, Any]:
    """The ``metrics.json`` dict (see :func:`anyconv.train.train`)."""
    history = trainer.history
    last = history[-1] if history else {}
    train_time = sum(r["seconds"] for r in history)
    metrics: dict[str, Any] = {
        "status": status,
        "model": trainer.config.model,
        "data": trainer.config.data,
        "test_accuracy": last.get("test_accuracy"),
        "test_loss": last.get("test_loss"),
        "train_accuracy": last.get("accuracy"),
        "train_loss": last.get("loss"),
        "best_test_accuracy": max(
            (r["test_accuracy"] for r in history if r["test_accuracy"] is not None), default=None
        ),
        "epochs": trainer.epoch,
        "parameters": trainer.parameters,
        "train_seconds": train_time + sum(r["eval_seconds"] for r in history),
        "samples_per_second": (
            trainer.samples_per_epoch * len(history) / train_time if train_time else None
        ),
        "seed": trainer.config.seed,
        "device": str(trainer.device),
        "world_size": trainer.dist.world_size,
        "run_dir": str(trainer.run_dir),
        "history": history,
    }
    if trainer.last_eval is not None:
        metrics["confusion"] = summarize(*trainer.last_eval)["confusion"].tolist()
    metrics.update(extra)
    return metrics


def write_progress(trainer: Trainer, status: str, **extra: Any) -> dict[str, Any]:
    """Rank 0's per-epoch files: metrics.json, metrics.csv, config.json and, unless the run
    diverged (then the last good weights stay), model.safetensors."""
    out = trainer.run_dir
    metrics = run_metrics(trainer, status, **extra)
    write_json(out / METRICS, metrics)
    write_csv(out / METRICS_CSV, trainer.history)
    if status != "diverged":
        write_json(out / CONFIG, run_config(trainer))
        save_weights(out / WEIGHTS, trainer.core)
    return metrics


def finish_run(trainer: Trainer) -> dict[str, Any]:
    """After the last epoch: final files and pictures (rank 0); the metrics (every rank)."""
    if trainer.last_eval is None:  # resumed a finished run: nothing trained, evaluate anew
        trainer.last_eval = trainer.evaluate()
    if not trainer.dist.main:
        return run_metrics(trainer, "finished")
    pictures = write_pictures(trainer) if trainer.config.pictures else []
    metrics = write_progress(trainer, "finished", pictures=pictures)
    trainer.console.print(
        f"test accuracy {metrics['test_accuracy']:.2%} ({trainer.config.model} on "
        f"{trainer.config.data}, {metrics['epochs']} epochs, {metrics['train_seconds']:.1f} s "
        f"of training); run folder {trainer.run_dir}",
        highlight=False,
    )
    return metrics


def write_pictures(trainer: Trainer) -> list[str]:
    """The four PNGs; a picture that fails is skipped with a warning -- a finished
    training run is worth more than its figures."""
    from anyconv import viz

    out, model, data = trainer.run_dir, trainer.core, trainer.data
    sample = next(iter(data.batches("test", [0], 1)))[0][0]  # [h-data] any kind of data
    jobs = {
        "history.png": lambda p: viz.plot_history(trainer.history, p),
        "confusion.png": lambda p: viz.plot_confusion(
            summarize(*trainer.last_eval)["confusion"], data.class_names, p
        ),
        "filters.png": lambda p: viz.plot_filters(viz.first_conv_weight(model, sample), p),
        "feature_maps.png": lambda p: viz.plot_feature_maps(model, sample, p),
    }
    from anyconv.viz.cam import cam_examples, plot_cam, supports_cam  # [h-data]

    if supports_cam(model) and data.kind == "sequence" and hasattr(data, "x_test"):
        xs, ys = cam_examples(data.x_test, data.y_test)
        jobs["cam.png"] = lambda p: plot_cam(model, xs, ys, p, data.class_names)
    written = []
    for name, draw in jobs.items():
        try:
            draw(out / name)
            written.append(name)
        except Exception as error:
            warnings.warn(f"{name} not written: {error}", RuntimeWarning, stacklevel=2)
    return written


def load_run(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a trained model from its run folder: ``config.json`` + ``model.safetensors``.

    The model comes from :func:`anyconv.models.create_model` with the recorded name and
    arguments, in eval mode; nothing is unpickled.

    Returns:
        ``(model, config)`` where ``config`` is ``config.json``'s dict (``model``,
        ``model_kwargs``, ``data``, ``kind``, ``input_shape``, ``num_classes``,
        ``class_names``, ``train``: the :class:`TrainConfig` fields).

    Example (not run here)::

        model, config = load_run("runs/lenet5-digits-20250101-120000")
        probs = predict(model, x)  # x: (N, *config["input_shape"])
    """
    run_dir = Path(run_dir)
    config_path, weights_path = run_dir / CONFIG, run_dir / WEIGHTS
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"load_run(): {path} is missing; is {run_dir} a run folder "
                "written by anyconv train?"
            )
    try:
        config = json.loads(config_path.read_text())
        name, kwargs = config["model"], dict(config["model_kwargs"])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"load_run(): {config_path} is malformed: {error}") from None
    kwargs["input_size"] = tuple(kwargs["input_size"])  # JSON turned the tuple into a list
    from anyconv.models import create_model
    from anyconv.train.checkpoint import load_weights

    model = create_model(name, **kwargs)
    load_weights(weights_path, model)
    return model.to(device).eval(), config
