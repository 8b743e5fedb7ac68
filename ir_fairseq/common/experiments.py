"""The stages the reproductions (``examples/reproduce_*.py``) are made of.

Each stage is one of the project's recipes or commands, run as a subprocess with its own log,
whose result is cached beside its outputs: a re-run of a reproduction skips what is done.
"""
import hashlib
import json
import os
import subprocess
import sys
import time

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Progress:
    """``[name HH:MM:SS +elapsed] message`` lines, flushed at once (the run is long)."""

    def __init__(self, name):
        self.name = name
        self.started = time.time()

    def minutes(self):
        return (time.time() - self.started) / 60

    def __call__(self, message):
        print(f"[{self.name} {time.strftime('%H:%M:%S')} +{self.minutes():.1f} min] {message}", flush=True)


def run(cmd, env_extra=None, log_path=None):
    """Run one command with its output appended to ``log_path``; a failure raises with its tail."""
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    env.update(env_extra or {})
    with open(log_path, "a", encoding="utf-8") if log_path else open(os.devnull, "w") as out:
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = ""
        if log_path:
            with open(log_path, encoding="utf-8") as f:
                tail = f.read()[-3000:]
        raise IRUserError(f"{' '.join(map(str, cmd[:3]))} failed ({proc.returncode}); log {log_path}\n{tail}")


def recipe(script, *args, env=None, log_path=None):
    """One of ``scripts/*.sh``."""
    run(["bash", os.path.join(ROOT, "scripts", script), *map(str, args)], env, log_path)


def evaluate_checkpoint(checkpoint, data, cache_path, mask_prob=0.15, normalize="none"):
    """``ir-fairseq evaluate`` of one checkpoint on ``data``'s held-out split, cached in ``cache_path``."""
    if not os.path.isfile(cache_path):
        out = subprocess.run([sys.executable, "-m", "ir_fairseq", "evaluate", checkpoint, data,
                              "--mask-prob", str(mask_prob), "--ir-normalize", normalize],
                             capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
        if out.returncode != 0:
            raise IRUserError(f"evaluating {checkpoint} failed:\n{out.stderr[-2000:]}")
        with atomic_output(cache_path) as f:
            f.write(out.stdout.strip().splitlines()[-1])
    with open(cache_path, encoding="utf-8") as f:
        return json.load(f)


def finetune_glue(task, checkpoint, task_bin, save_dir, lr, batch, epochs, seed=1, extra_env=None,
                  final_epoch_only=False):
    """``finetune_glue.sh`` once (dev only), unless ``save_dir`` already holds its dev metrics from
    the same settings and the same data; returns the path of its ``dev_metrics.json``. The
    fine-tuned weights are deleted once scored. ``final_epoch_only``: validate and keep only the
    last epoch (no per-epoch dev passes, no best-epoch choice on dev)."""
    metrics_path = os.path.join(save_dir, "dev_metrics.json")
    settings_path = os.path.join(save_dir, "finetune_settings.json")
    settings = dict(task=task, checkpoint=os.path.abspath(checkpoint), task_bin=os.path.abspath(task_bin),
                    task_data=data_digest(task_bin), lr=lr, batch=batch, epochs=epochs, seed=seed,
                    env=extra_env or {}, final_epoch_only=final_epoch_only)
    if os.path.isfile(metrics_path) and _read_json(settings_path) == settings:
        return metrics_path
    # nothing cached, or cached for other settings (a changed budget): fine-tune again
    for stale in (metrics_path, settings_path):
        if os.path.exists(stale):
            os.remove(stale)
    os.makedirs(save_dir, exist_ok=True)
    interval = ["--validate-interval", str(epochs), "--save-interval", str(epochs)] if final_epoch_only else []
    recipe("finetune_glue.sh", task, checkpoint, task_bin, save_dir, "--num-workers", "0", *interval,
           env=dict(extra_env or {}, LR=str(lr), BATCH=str(batch), EPOCHS=str(epochs), SEED=str(seed),
                    SUBMISSION="0"),
           log_path=os.path.join(save_dir, "finetune.log"))
    for name in ("checkpoint_best.pt", "checkpoint_last.pt"):
        if os.path.exists(os.path.join(save_dir, name)):
            os.remove(os.path.join(save_dir, name))
    with atomic_output(settings_path) as f:
        json.dump(settings, f, indent=1, sort_keys=True)
    return metrics_path


def data_digest(folder):
    """sha256 of every file under ``folder`` but its logs: a bin re-made with other rows (same path)
    must not pass for the one a cached fine-tuning was trained on."""
    digest = hashlib.sha256()
    for root, _, names in sorted(os.walk(folder)):
        for name in sorted(names):
            if name.endswith(".log"):
                continue
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, folder).encode() + b"\0")
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\0")
    return digest.hexdigest()


def _read_json(path):
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def pyplot():
    """matplotlib's pyplot on the file-only backend, without its debug logging."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_report(results_dir, lines):
    """The results folder's README.md, also printed."""
    with open(os.path.join(results_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def default_shared_data():
    """The shared data folder: IR_FAIRSEQ_SHARED_DATA, else ``../shared/data`` beside the repository."""
    return os.environ.get("IR_FAIRSEQ_SHARED_DATA") or os.path.join(os.path.dirname(ROOT), "shared", "data")


# matplotlib's tab10 without its blue, which the plots keep for the MLM baseline
ARM_COLORS = ["tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
              "tab:olive", "tab:cyan"]


def plot_seed_curves(ax, curves, labels, colors):
    """One line per (arm, seed) of ``{(arm, seed): [(update, value), ...]}``: each arm's first
    seed labelled and drawn strong, its other seeds fainter."""
    for (arm, seed), points in sorted(curves.items()):
        if points:
            xs, ys = zip(*points)
            first = seed == min(s for a, s in curves if a == arm)
            ax.plot(xs, ys, color=colors[arm], alpha=0.85 if first else 0.4, label=labels[arm] if first else None)


def save_figure(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_target_entropy(path, live_curves, labels, colors, held_out, held_out_label, log_c, xlabel):
    """target_entropy against updates: the IR arms' live training-log curves (every seed) and the
    MLM baseline's held-out values at its checkpoints (its criterion logs none)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_seed_curves(ax, live_curves, labels, colors)
    xs, ys = zip(*sorted(held_out))
    ax.plot(xs, ys, marker="o", color="tab:blue", label=held_out_label)
    ax.axhline(log_c, color="grey", linestyle=":", label="log C (uniform)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("target_entropy (nats)")
    ax.set_title("Entropy of softmax(Ĥ) over the hidden dimension")
    ax.legend(fontsize=7)
    return save_figure(plt, fig, path)
