"""An HF fast tokenizer (``tokenizer.json``) for a sentencepiece model folder, built for the ids
the fairseq pipeline feeds the model.

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
"""
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


def tokenizer_config(max_length: int) -> dict:
    return {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length,
            "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
            "mask_token": "[MASK]", "bos_token": "[CLS]", "eos_token": "[SEP]"}
