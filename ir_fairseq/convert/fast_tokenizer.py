"""HF fast tokenizers (``tokenizer.json``) for sentencepiece and GPT-2 BPE model folders, built
for the ids the fairseq pipeline feeds the model.

The fairseq side tokenises with ``spm.model`` (a unigram model: each piece has a score) and looks
every piece up in ``dict.txt``. The fast tokenizer holds the same unigram model with its pieces
in the dictionary's id order and their sentencepiece scores, sentencepiece's own normalizer (the
precompiled character map in the model file), its whitespace handling (``▁`` prefix, runs of
spaces collapsed) and the fairseq framing: ``<s> A </s>`` and, as the GLUE recipes build pairs,
``<s> A </s> </s> B </s>`` (all segment 0: fairseq's encoder has none). The specials carry BERT's names ([CLS] [PAD] [SEP] [UNK] [MASK]),
as in the exported ``vocab.txt``.

A piece of ``spm.model`` that ``dict.txt`` lacks cannot have an id: it is left out, so on text
where sentencepiece would choose it (and fairseq map it to ``<unk>``) the fast tokenizer picks
another segmentation. ``build`` reports how many there are; the exporter's check compares the
two tokenizers on real sentences and refuses on any difference.

A fairseq RoBERTa folder's GPT-2 BPE (``build_gpt2``) keeps its merges; its vocabulary maps each
byte-level token to the fairseq id of its GPT-2 id (RoBERTa's own names for the specials), as
HF's RoBERTa checkpoints do. Byte-level BPE has no unknown token to fall back on, so every token
of ``encoder.json`` must be in ``dict.txt`` (fairseq's RoBERTa dictionaries list all of them).
"""
import json
from typing import Dict, List, Tuple

from ir_fairseq.common.errors import IRUserError

# fairseq's specials -> BERT's names, as the exported vocab.txt and config use them
BERT_SPECIALS = {"<s>": "[CLS]", "<pad>": "[PAD]", "</s>": "[SEP]", "<unk>": "[UNK]", "<mask>": "[MASK]"}
# a dictionary symbol sentencepiece never produces (fairseq's specials, padding symbols): the
# lattice must never prefer it
NEVER = -1e9


def sentencepiece_pieces(spm_path: str) -> Tuple[Dict[str, float], bytes]:
    """(piece -> score of every normal piece, the normalizer's precompiled character map)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    with open(spm_path, "rb") as f:
        proto.ParseFromString(f.read())
    if proto.trainer_spec.model_type != sentencepiece_model_pb2.TrainerSpec.UNIGRAM:
        raise IRUserError(f"{spm_path} is not a unigram sentencepiece model: only unigram models "
                          "(as `ir-fairseq spm train` makes) can be exported with a fast tokenizer")
    normal = sentencepiece_model_pb2.ModelProto.SentencePiece.NORMAL
    scores = {p.piece: p.score for p in proto.pieces if p.type == normal}
    return scores, proto.normalizer_spec.precompiled_charsmap


def build(spm_path: str, symbols: List[str]):
    """(``tokenizers.Tokenizer`` over ``symbols`` (the fairseq dictionary in id order), the
    number of sentencepiece pieces left out because the dictionary lacks them)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    scores, charsmap = sentencepiece_pieces(spm_path)
    names = [BERT_SPECIALS.get(s, s) for s in symbols]
    vocab = [(name, scores.get(symbol, NEVER)) for symbol, name in zip(symbols, names)]
    known = set(symbols)
    missing = sum(1 for piece in scores if piece not in known)
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=names.index("[UNK]"), byte_fallback=False))
    steps = [normalizers.Precompiled(charsmap)] if charsmap else []
    tokenizer.normalizer = normalizers.Sequence(steps + [normalizers.Strip(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    specials = [name for name in BERT_SPECIALS.values() if name in names]
    tokenizer.add_special_tokens([AddedToken(name, special=True, normalized=False) for name in specials])
    cls, sep = ("[CLS]", names.index("[CLS]")), ("[SEP]", names.index("[SEP]"))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] [SEP] $B [SEP]", special_tokens=[cls, sep])
    return tokenizer, missing


def gpt2_vocabulary(encoder_path: str, symbols: List[str]) -> Dict[str, int]:
    """byte-level token -> fairseq id, for a dictionary of GPT-2 ids; refuses an incomplete one."""
    with open(encoder_path, encoding="utf-8") as f:
        encoder = json.load(f)
    token_of = {str(gpt2_id): token for token, gpt2_id in encoder.items()}
    vocab = {token_of.get(symbol, symbol): fairseq_id for fairseq_id, symbol in enumerate(symbols)}
    missing = sorted(set(encoder) - set(vocab), key=encoder.get)
    if missing:
        raise IRUserError(
            f"dict.txt lacks {len(missing)} of the {len(encoder)} tokens of {encoder_path} (GPT-2 ids "
            f"{', '.join(str(encoder[t]) for t in missing[:5])}{', ...' if len(missing) > 5 else ''}): fairseq maps "
            "them to <unk>, which a byte-level fast tokenizer cannot; nothing written")
    return vocab


def build_gpt2(encoder_path: str, merges_path: str, symbols: List[str]):
    """(``tokenizers.Tokenizer``, its vocabulary) for fairseq RoBERTa's GPT-2 BPE over
    ``symbols`` (the fairseq dictionary in id order)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = gpt2_vocabulary(encoder_path, symbols)
    merges = models.BPE.read_file(encoder_path, merges_path)[1]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.normalizer = normalizers.Strip()  # the recipes strip every line before encoding it
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in BERT_SPECIALS if s in vocab])
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", vocab["</s>"]), ("<s>", vocab["<s>"]),
                                                            add_prefix_space=False)
    return tokenizer, vocab


def gpt2_tokenizer_config(max_length: int) -> dict:
    return {"tokenizer_class": "RobertaTokenizer", "model_max_length": max_length, "add_prefix_space": False,
            "bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>", "pad_token": "<pad>",
            "unk_token": "<unk>", "mask_token": "<mask>"}


def tokenizer_config(max_length: int) -> dict:
    return {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length,
            "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
            "mask_token": "[MASK]", "bos_token": "[CLS]", "eos_token": "[SEP]"}
