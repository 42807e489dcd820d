"""``anyconv train --ensemble K``: K training runs with consecutive seeds in one run folder,
and the run of their averaged probabilities.

::

    RUN_DIR/
      member-1/ ... member-K/   each a complete run folder (seed, seed+1, ...)
      config.json               member-1's, plus "members": the member folders
      metrics.json              the ensemble's test figures and each member's
      confusion.png             of the ensemble

``load_run(RUN_DIR)`` rebuilds an :class:`~anyconv.models.Ensemble` of the members, so that
``evaluate`` and ``predict`` use the average as they would one network.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from rich.console import Console

from anyconv.data.base import Dataset
from anyconv.train.checkpoint import write_json
from anyconv.train.config import TrainConfig
from anyconv.train.metrics import evaluate
from anyconv.train.run import CONFIG, METRICS, RunFolder, load_run_data

MEMBER = "member-{}"


def train_ensemble(
    config: TrainConfig, data: Dataset | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Train ``config.ensemble`` members (seeds ``config.seed + i``) into the run folder's
    ``member-i`` folders, then test the average of their probabilities on the test split;
    returns the ensemble's ``metrics.json`` dict (``test_accuracy``, ``test_loss``,
    ``confusion``, ``members``: each member's test accuracy and folder, ``run_dir``).

    With ``resume``, a member whose run finished is kept and the others resume or start.
    """
    from anyconv.train.trainer import Trainer

    console = console or Console(stderr=True)
    folder = RunFolder(config.run_dir())
    folder.check_writable()
    if not config.resume and not config.overwrite and folder.holds_run():
        raise FileExistsError(
            f"{folder.path} already holds a run; --resume continues it, --overwrite replaces it"
        )
    members = []
    for i in range(1, config.ensemble + 1):
        path = folder.path / MEMBER.format(i)
        member = dataclasses.replace(config, ensemble=1, seed=config.seed + i - 1, out=str(path))
        metrics_file = path / METRICS
        finished = metrics_file.is_file() and config.resume
        metrics = json.loads(metrics_file.read_text()) if finished else {}
        if metrics.get("status") != "finished":
            console.print(f"ensemble member {i}/{config.ensemble} (seed {member.seed})",
                          markup=False, highlight=False)  # fmt: skip
            metrics = Trainer(member, data, console=console).fit()
        members.append({"run_dir": path.name, "seed": member.seed,
                        "test_accuracy": metrics["test_accuracy"]})  # fmt: skip
    write_ensemble_config(folder, config.ensemble)
    model, run = folder.load_model()
    return _finish(folder, config, run, model, members, data, console)


def write_ensemble_config(folder: RunFolder, count: int) -> dict[str, Any]:
    """The ensemble's ``config.json``: member 1's, with the member folders listed."""
    run = json.loads((folder.path / MEMBER.format(1) / CONFIG).read_text())
    run["members"] = [MEMBER.format(i) for i in range(1, count + 1)]
    write_json(folder.file(CONFIG), run)
    return run


def _finish(folder, config, run, model, members, data, console) -> dict[str, Any]:
    data = data if data is not None else load_run_data(run)
    result = evaluate(model, data, batch_size=config.eval_batch_size)
    metrics = {
        "status": "finished",
        "model": config.model,
        "data": config.data,
        "ensemble": config.ensemble,
        "test_accuracy": result["accuracy"],
        "test_loss": result["loss"],
        "confusion": result["confusion"].tolist(),
        "members": members,
        "member_mean_accuracy": sum(m["test_accuracy"] for m in members) / len(members),
        "run_dir": str(folder.path),
    }
    folder.write_metrics({**metrics, "history": []})
    if config.pictures:
        from anyconv import viz

        title = f"{config.model} ensemble of {config.ensemble} on {config.data_spec.label}"
        folder.write_pictures(
            {"confusion.png": lambda p: viz.plot_confusion(result["confusion"],
                                                           data.class_names, p, title=title)}
        )  # fmt: skip
    each = ", ".join(f"{m['test_accuracy']:.2%}" for m in members)
    console.print(
        f"test accuracy {result['accuracy']:.2%} (ensemble of {config.ensemble} {config.model}; "
        f"members {each}); "
        f"run folder {folder.path}",
        markup=False,
        highlight=False,
    )
    return metrics
