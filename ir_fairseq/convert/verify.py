"""The printed exactness check: last-layer hidden states of an HF folder (run by ``transformers``)
against a fairseq model on a few real sentences, each side fed through its own vocabulary."""
import os

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.model_folder import load_tokenizer

TOLERANCE = 1e-4  # the largest last-layer difference a conversion may show


def publish_if_exact(report, source, scratch, out_dir):
    """Move the scratch folder's files into out_dir, unless the check found a difference."""
    if report is not None and report["max_abs_diff"] > TOLERANCE:
        raise IRUserError(f"converted model differs from {source}: max |Δ hidden| "
                          f"{report['max_abs_diff']:.3g} > {TOLERANCE}; nothing written")
    for name in os.listdir(scratch):
        os.replace(os.path.join(scratch, name), os.path.join(out_dir, name))


# Real sentences (Wikipedia, SQuAD contexts) with punctuation, numbers, rare words and accents.
SENTENCES = [
    "Super Bowl 50 was an American football game to determine the champion of the National "
    "Football League (NFL) for the 2015 season.",
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, "
    "a region in France.",
    "Anarchism is a political philosophy that advocates self-governed societies based on "
    "voluntary institutions.",
    "Beyoncé Giselle Knowles-Carter is an American singer, songwriter and actress.",
]


def load_hf_model(hf_dir, masked_lm=False):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers import AutoModel, AutoModelForMaskedLM
    except ImportError as e:
        raise IRUserError("the exactness check needs the `transformers` package "
                          "(pip install transformers), or pass --no-verify") from e
    model_class = AutoModelForMaskedLM if masked_lm else AutoModel
    return model_class.from_pretrained(hf_dir, local_files_only=True).eval()


def compare_hidden_states(hf, fairseq_model, dictionary, model_dir):
    """``hf``: the source HFCheckpoint; ``model_dir``: the converted model folder, whose own
    tokenizer gives the pieces both sides look up in their vocabularies."""
    import torch

    hf_model = load_hf_model(hf.folder)
    tokenizer = load_tokenizer(model_dir)
    hf_vocab = {token: i for i, token in enumerate(hf.vocab)}  # a repeated token: its last id, as HF's
    # the pieces of a converted byte-level BPE folder are the HF ids themselves
    piece_ids = {str(i): i for i in range(len(hf.vocab))} if hf.byte_level_bpe else hf_vocab
    hf_unk = hf_vocab[hf.special_tokens["unk_token"]]
    cls_id, sep_id = hf_vocab[hf.special_tokens["cls_token"]], hf_vocab[hf.special_tokens["sep_token"]]
    fairseq_model.eval()
    worst, tokens = 0.0, 0
    with torch.no_grad():
        for sentence in SENTENCES:
            pieces = tokenizer.tokenize(sentence)[:hf.max_positions - 2]  # room for <s> and </s>
            hf_ids = torch.tensor([[cls_id] + [piece_ids.get(p, hf_unk) for p in pieces] + [sep_id]])
            fs_ids = torch.tensor([[dictionary.bos()] + [dictionary.index(p) for p in pieces]
                                   + [dictionary.eos()]])
            hf_out = hf_model(input_ids=hf_ids, attention_mask=torch.ones_like(hf_ids),
                              token_type_ids=torch.zeros_like(hf_ids)).last_hidden_state
            fs_out = fairseq_model(fs_ids, features_only=True)[0]
            worst = max(worst, (hf_out - fs_out).abs().max().item())
            tokens += hf_ids.numel()
    return {"max_abs_diff": worst, "sentences": len(SENTENCES), "tokens": tokens}
