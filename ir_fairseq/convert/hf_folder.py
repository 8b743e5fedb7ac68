"""Reading a local HuggingFace BERT/ELECTRA/RoBERTa folder: config, weights, vocabulary
(WordPiece ``vocab.txt``; RoBERTa's byte-level BPE ``vocab.json`` + ``merges.txt``).

Only local files are read (no hub). Every tensor is accounted for: what the fairseq encoder
does not use (pooler, NSP head, ELECTRA's discriminator head) is listed by name in
IGNORED_PREFIXES, anything else unknown is an error rather than silently dropped.
"""
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.model_folder import WORDPIECE_CONFIG_FILE, WORDPIECE_FILE, wordpiece_lowercase
from ir_fairseq.convert.layout import ROBERTA_HEAD_NAMES

if TYPE_CHECKING:  # torch is imported where the weights are read: the commands' --help starts without it
    import torch

SUPPORTED_ARCHITECTURES = {
    "BertModel": "bert", "BertForMaskedLM": "bert", "BertForPreTraining": "bert",
    "ElectraModel": "electra", "ElectraForPreTraining": "electra",
    "RobertaModel": "roberta", "RobertaForMaskedLM": "roberta",
}
BPE_VOCAB_FILE, BPE_MERGES_FILE = "vocab.json", "merges.txt"
# HF activation name -> fairseq activation name (gelu_new is the tanh approximation)
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_accurate", "gelu_pytorch_tanh": "gelu_accurate",
               "relu": "relu", "tanh": "tanh"}
IGNORED_PREFIXES = ("pooler.", "cls.seq_relationship.", "discriminator_predictions.",
                    "embeddings.position_ids")
SPECIAL_TOKEN_DEFAULTS = {"cls_token": "[CLS]", "pad_token": "[PAD]", "sep_token": "[SEP]",
                          "unk_token": "[UNK]", "mask_token": "[MASK]"}
ROBERTA_SPECIAL_TOKEN_DEFAULTS = {"cls_token": "<s>", "pad_token": "<pad>", "sep_token": "</s>",
                                  "unk_token": "<unk>", "mask_token": "<mask>"}


@dataclass
class HFCheckpoint:
    folder: str
    architecture: str
    model_type: str  # "bert", "electra" or "roberta"
    config: dict
    weights: Dict[str, "torch.Tensor"]  # without the "bert."/"electra." prefix
    vocab: List[str]
    special_tokens: Dict[str, str]
    lowercase: bool

    @property
    def byte_level_bpe(self) -> bool:
        """RoBERTa's tokenizer: vocab.json + merges.txt (GPT-2's encoder.json + vocab.bpe)."""
        return self.model_type == "roberta"

    @property
    def max_positions(self) -> int:
        """Positions a sequence may use: RoBERTa's table also holds the padding offset's rows."""
        rows = self.config.get("max_position_embeddings", 512)
        return rows - self.config.get("pad_token_id", 1) - 1 if self.byte_level_bpe else rows

    @property
    def has_mlm_head(self) -> bool:
        return "cls.predictions.transform.dense.weight" in self.weights

    @property
    def embedding_size(self) -> int:
        return self.config.get("embedding_size") or self.config["hidden_size"]


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except json.JSONDecodeError as e:
        raise IRUserError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise IRUserError(f"{path} does not hold a JSON object")
    return value


def _read_weights(folder: str) -> Dict[str, "torch.Tensor"]:
    import torch

    safetensors_path = os.path.join(folder, "model.safetensors")
    bin_path = os.path.join(folder, "pytorch_model.bin")
    try:
        if os.path.isfile(safetensors_path):
            from safetensors.torch import load_file

            return load_file(safetensors_path)
        if os.path.isfile(bin_path):
            return torch.load(bin_path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated or foreign files: name the file, keep the cause
        path = safetensors_path if os.path.isfile(safetensors_path) else bin_path
        raise IRUserError(f"cannot read weights {path}: {type(e).__name__}: {e}") from e
    raise IRUserError(f"{folder} has no model.safetensors or pytorch_model.bin")


def _strip_model_prefix(weights: Dict[str, "torch.Tensor"], model_type: str):
    prefix = model_type + "."
    stripped = {}
    for key, value in weights.items():
        key = key[len(prefix):] if key.startswith(prefix) else key
        # TF-converted BERT checkpoints name LayerNorm parameters gamma/beta
        key = key.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        for roberta_name, bert_name in ROBERTA_HEAD_NAMES.items():
            if key.startswith(roberta_name):
                key = bert_name + key[len(roberta_name):]
        stripped[key] = value
    return stripped


def _read_bpe_vocab(folder: str) -> List[str]:
    """vocab.json's tokens in id order (HF RoBERTa ids)."""
    for name in (BPE_VOCAB_FILE, BPE_MERGES_FILE):
        if not os.path.isfile(os.path.join(folder, name)):
            raise IRUserError(f"{folder} has no {name} (RoBERTa's byte-level BPE needs {BPE_VOCAB_FILE} and "
                              f"{BPE_MERGES_FILE})")
    path = os.path.join(folder, BPE_VOCAB_FILE)
    ids = _read_json(path)
    by_id = {}
    for token, i in ids.items():
        if not isinstance(i, int) or i in by_id:
            raise IRUserError(f"{path}: token {token!r} has {'a repeated' if i in by_id else 'a non-integer'} id {i!r}")
        by_id[i] = token
    if sorted(by_id) != list(range(len(by_id))):
        raise IRUserError(f"{path}: ids are not 0..{len(by_id) - 1} without gaps")
    return [by_id[i] for i in range(len(by_id))]


def _read_vocab(folder: str) -> List[str]:
    path = os.path.join(folder, WORDPIECE_FILE)
    if not os.path.isfile(path):
        raise IRUserError(f"{folder} has no {WORDPIECE_FILE} (the WordPiece vocabulary of the checkpoint)")
    with open(path, encoding="utf-8") as f:
        vocab = [line.rstrip("\n").rstrip("\r") for line in f]
    while vocab and vocab[-1] == "":
        vocab.pop()
    for i, token in enumerate(vocab, 1):
        if not token or any(c.isspace() for c in token):
            raise IRUserError(f"{path}:{i}: a WordPiece token may not be empty or contain whitespace: {token!r}")
    return vocab


def read_hf_folder(folder: str) -> HFCheckpoint:
    if not os.path.isdir(folder):
        raise IRUserError(f"HuggingFace model folder not found: {folder}")
    config_path = os.path.join(folder, "config.json")
    if not os.path.isfile(config_path):
        raise IRUserError(f"{folder} has no config.json")
    config = _read_json(config_path)
    architectures = config.get("architectures") or []
    model_type = config.get("model_type")
    architecture: Optional[str] = next((a for a in architectures if a in SUPPORTED_ARCHITECTURES), None)
    if architecture is None:
        raise IRUserError(
            f"unsupported architecture {architectures or '(none)'} (model_type {model_type!r}) in "
            f"{config_path}: supported are {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    model_type = SUPPORTED_ARCHITECTURES[architecture]
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise IRUserError(f"{config_path}: position_embedding_type "
                          f"{config['position_embedding_type']!r} is not supported (only 'absolute')")
    if config.get("hidden_act", "gelu") not in ACTIVATIONS:
        raise IRUserError(f"{config_path}: hidden_act {config.get('hidden_act')!r} is not supported "
                          f"({', '.join(ACTIVATIONS)})")
    weights = _strip_model_prefix(_read_weights(folder), model_type)
    vocab_file = BPE_VOCAB_FILE if model_type == "roberta" else WORDPIECE_FILE
    vocab = _read_bpe_vocab(folder) if model_type == "roberta" else _read_vocab(folder)
    if len(vocab) != config.get("vocab_size"):
        raise IRUserError(f"{vocab_file} has {len(vocab)} tokens but config.json says vocab_size "
                          f"{config.get('vocab_size')}")
    special_tokens = dict(ROBERTA_SPECIAL_TOKEN_DEFAULTS if model_type == "roberta" else SPECIAL_TOKEN_DEFAULTS)
    for name in ("special_tokens_map.json", WORDPIECE_CONFIG_FILE):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            values = _read_json(path)
            for key in SPECIAL_TOKEN_DEFAULTS:
                token = values.get(key)
                if isinstance(token, dict):  # {"content": "[CLS]", ...}
                    token = token.get("content")
                if isinstance(token, str):
                    special_tokens[key] = token
    for key, token in special_tokens.items():
        if token not in vocab:
            raise IRUserError(f"{key} {token!r} is not in {folder}/{vocab_file}")
    return HFCheckpoint(folder, architecture, model_type, config, weights, vocab, special_tokens,
                        lowercase=model_type != "roberta" and wordpiece_lowercase(folder))
