"""fairseq checkpoints, read from disk once: their config, architecture, embeddings, and the
check that a dictionary fits them.

Every tool that takes a checkpoint reads it through ``Checkpoint.read`` (one ``torch.load``,
memory-mapped where the file allows), asks it what it needs, and builds the model from the
same state with ``Checkpoint.load_model``, so a multi-GB file is not read two or three times
and every unreadable or mismatched file gives the same one-line ``IRUserError``.
"""
import copy
import os
from typing import TYPE_CHECKING, Any, List, Optional

from ir_fairseq.common.errors import IRUserError

if TYPE_CHECKING:  # torch is imported where a checkpoint is read: model-flags --help starts without it
    import torch

EMBEDDINGS = "encoder.sentence_encoder.embed_tokens.weight"
ARCHITECTURE_FIELDS = (
    "encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads",
    "max_positions", "activation_fn", "encoder_normalize_before",
    "layer_norm_eps", "embedding_size",  # ir_bert (converted BERT/ELECTRA) only
)


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


def read_state(path: str) -> dict:
    """The checkpoint's contents, or a one-line error for a file that cannot be read."""
    if not os.path.isfile(path):
        raise IRUserError(f"checkpoint not found: {path}")
    if os.path.getsize(path) == 0:
        raise IRUserError(f"checkpoint {path} is empty (truncated?)")
    import torch

    try:
        try:
            state = torch.load(path, map_location="cpu", mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e):
                raise
            state = torch.load(path, map_location="cpu")  # legacy (non-zip) format
    except Exception as e:  # truncated zip, garbage, pickle of unknown classes, ...
        raise IRUserError(f"checkpoint {path} cannot be read (corrupt or truncated?): "
                          f"{type(e).__name__}: {_first_line(e)}") from e
    if not isinstance(state, dict) or "model" not in state:
        raise IRUserError(f"{path} is not a fairseq checkpoint (no 'model' entry)")
    return state


class Checkpoint:
    """One fairseq checkpoint file and what it says about itself."""

    def __init__(self, path: str, state: dict):
        self.path = path
        self.state = state

    @classmethod
    def read(cls, path: str) -> "Checkpoint":
        return cls(path, read_state(path))

    # -- configuration -----------------------------------------------------------------
    def _section(self, name: str):
        cfg = self.state.get("cfg")
        if cfg is not None:
            return cfg.get(name)
        return self.state.get("args")  # checkpoints of fairseq < 0.10: one flat Namespace

    def setting(self, section: str, key: str, default: Any = None) -> Any:
        """A value of the checkpoint's config (``task``, ``model``, ``checkpoint``, ...)."""
        values = self._section(section)
        if values is None:
            return default
        value = values.get(key, default) if hasattr(values, "get") else getattr(values, key, default)
        return default if value is None else value

    @property
    def task_name(self) -> Optional[str]:
        if self.state.get("cfg") is None:  # a flat Namespace: its _name, if any, is the architecture's
            return self.setting("task", "task")
        return self.setting("task", "_name")

    @property
    def arch(self) -> Optional[str]:
        return self.setting("model", "arch") or self.setting("model", "_name")

    def architecture_flags(self) -> List[str]:
        """The fairseq-train flags that rebuild this checkpoint's encoder with its own sizes."""
        if self._section("model") is None:
            raise IRUserError(f"{self.path} holds no model configuration")
        flags = ["--arch", self.arch or "roberta_base"]
        for name in ARCHITECTURE_FIELDS:
            value = self.setting("model", name)
            if value is None or value is False:
                continue
            flag = "--" + name.replace("_", "-")
            flags += [flag] if value is True else [flag, str(value)]
        return flags

    def architecture_overrides(self) -> List[str]:
        """The same as fairseq-hydra-train overrides, ``++model._name=... ++model.encoder_layers=...``
        (``++``: set whether or not the config already has the key)."""
        overrides = [f"++model._name={self.arch or 'roberta_base'}"]
        for name in ARCHITECTURE_FIELDS:
            value = self.setting("model", name)
            if value is not None and value is not False:
                overrides.append(f"++model.{name}={str(value).lower() if value is True else value}")
        return overrides

    # -- weights -------------------------------------------------------------------------
    @property
    def weights(self) -> dict:
        return self.state["model"]

    @property
    def embeddings(self) -> Optional["torch.Tensor"]:
        return self.weights.get(EMBEDDINGS)

    def check_dictionary(self, dictionary_size: int, source: str, hint: str = "") -> None:
        """Refuse a dictionary (its size with ``<mask>``) that does not fit the input embeddings."""
        rows = self.embeddings.size(0) if self.embeddings is not None else None
        if rows is None or rows == dictionary_size:
            return
        if rows == dictionary_size - 1:
            raise IRUserError(
                f"the vocabulary of {self.path} has no <mask> symbol (its embeddings have {rows} "
                f"rows, the dictionary of {source} with <mask> {dictionary_size}): masked-LM "
                "training needs a checkpoint whose vocabulary includes <mask>")
        raise IRUserError(
            f"the dictionary of {source} ({dictionary_size} symbols with <mask>) does not match the "
            f"embeddings of {self.path} ({rows} rows)"
            + (f": {hint}" if hint else ""))

    def check_fits(self, model: "torch.nn.Module") -> None:
        """Refuse weights whose names or shapes are not those of ``model``."""
        current = model.state_dict()
        missing = sorted(set(current) - set(self.weights))
        unexpected = sorted(set(self.weights) - set(current))
        if missing or unexpected:
            raise IRUserError(
                f"{self.path} does not fit this model: "
                + (f"{len(missing)} parameters missing there (e.g. {missing[0]})" if missing else "")
                + ("; " if missing and unexpected else "")
                + (f"{len(unexpected)} unknown here (e.g. {unexpected[0]})" if unexpected else "")
                + " (check --arch and the model sizes)")
        for name, tensor in self.weights.items():
            if tuple(current[name].shape) != tuple(tensor.shape):
                raise IRUserError(
                    f"{self.path} does not fit this model: {name} is {tuple(tensor.shape)} there "
                    f"and {tuple(current[name].shape)} here (check --arch and the model sizes)")

    # -- the model -----------------------------------------------------------------------
    def load_model(self, arg_overrides: Optional[dict] = None, task=None):
        """(model in eval mode, task) built by fairseq from this state, without reading the
        file again; ``arg_overrides`` as fairseq's (e.g. ``{"data": folder}``)."""
        from fairseq import checkpoint_utils
        from fairseq.dataclass.utils import overwrite_args_by_name
        from omegaconf import OmegaConf

        state = dict(self.state)  # the overrides must not change what this object read
        if state.get("args") is not None:
            state["args"] = copy.copy(state["args"])
            for name, value in (arg_overrides or {}).items():
                setattr(state["args"], name, value)
        if state.get("cfg") is not None:  # what fairseq's load_checkpoint_to_cpu does with a file
            state["cfg"] = OmegaConf.create(state["cfg"], flags={"allow_objects": True})
            if arg_overrides:
                overwrite_args_by_name(state["cfg"], arg_overrides)
        state = checkpoint_utils._upgrade_state_dict(state)
        models, _, task = checkpoint_utils.load_model_ensemble_and_task(
            [self.path], arg_overrides=arg_overrides, task=task, state=state)
        return models[0].eval(), task


def build_parser():
    import argparse

    parser = argparse.ArgumentParser(prog="ir-fairseq model-flags",
                                     description="Print the fairseq-train flags that rebuild a "
                                     "checkpoint's architecture (for fine-tuning recipes).")
    parser.add_argument("checkpoint")
    parser.add_argument("--hydra", action="store_true",
                        help="print fairseq-hydra-train overrides (++model._name=... ++model.KEY=VALUE)")
    return parser


def main(argv=None):
    """``ir-fairseq model-flags CHECKPOINT [--hydra]``: the fairseq-train flags (or the
    fairseq-hydra-train overrides) of its architecture."""
    args = build_parser().parse_args(argv)
    checkpoint = Checkpoint.read(args.checkpoint)
    print(" ".join(checkpoint.architecture_overrides() if args.hydra else checkpoint.architecture_flags()))
