"""The Instance Regularization math (Zhang et al., EMNLP 2022, §3), as small pure functions.

Notation of the paper: W is the original sentence, W' the masked one, D the masked positions,
P = W' with the model's own predictions written at D. H, Ĥ and H̃ are the last-layer hidden
states of W', W and P. The two penalties compare, position by position, distributions
obtained by a softmax over the hidden dimension:

    L_ECP = D(H, Ĥ)    (Eq. 2, ennoising corruption penalty)
    L_DPP = D(H̃, Ĥ)    (Eq. 3, denoising prediction penalty)
    L     = L_DAE + L_ECP + L_DPP    (Eq. 4)

Choices the paper leaves open, and what this file does:
- KL direction. Ĥ is the reference distribution, so D_KL(X, Ĥ) = KL(softmax(Ĥ) ‖ softmax(X))
  = Σ_d p̂_d (log p̂_d − log p_d): PyTorch's ``kl_div(log_softmax(X), softmax(Ĥ))`` argument
  order, which is how the paper's D_KL(X, Ĥ) reads. Its gradient with respect to the
  states X is softmax(X) − softmax(Ĥ): bounded, whatever the hidden size.
- MSE (Table 5) is the squared Euclidean distance between the two per-position
  distributions, Σ_d (p_d − p̂_d)². (A mean over d would only divide it by the hidden size.)
- Everything is computed in float32 whatever the model's dtype, and padding is excluded.
"""
import torch
import torch.nn.functional as F

DISTANCES = ("kl", "mse")
FILL_MODES = ("argmax", "sample")


def restore_original(src_tokens: torch.Tensor, target: torch.Tensor, pad: int) -> torch.Tensor:
    """Return W from a fairseq masked-LM sample.

    fairseq's ``MaskTokensDataset`` puts the original token in ``target`` at every masked
    position (D, whatever replaced it in W': <mask>, a random token or itself) and ``pad``
    elsewhere; the other positions of W' are unchanged. So W needs no extra data in the batch.
    """
    return torch.where(target.ne(pad), target, src_tokens)


def fill_predictions(
    src_tokens: torch.Tensor,
    masked: torch.Tensor,
    masked_logits: torch.Tensor,
    forbidden: torch.Tensor,
    mode: str = "argmax",
) -> torch.Tensor:
    """Return P: W' with the model's predictions written at the masked positions D.

    ``masked_logits`` holds one row per True entry of ``masked`` in row-major order (what
    fairseq's LM head returns with ``masked_tokens``). ``forbidden`` is a vocabulary-sized bool
    vector of symbols never written into P (padding, <s>, </s>, <unk>, <mask>): a predicted
    <pad> would silently change the padding mask of the P pass.
    ``argmax`` needs no softmax over the vocabulary; ``sample`` draws from the predicted
    distribution (uses torch's global RNG, which fairseq reseeds every update).
    """
    with torch.no_grad():
        logits = masked_logits.detach().float().masked_fill(forbidden, float("-inf"))
        if mode == "argmax":
            predicted = logits.argmax(dim=-1)
        elif mode == "sample":
            predicted = torch.multinomial(F.softmax(logits, dim=-1), 1).squeeze(-1)
        else:
            raise ValueError(f"unknown fill mode {mode!r}; expected one of {FILL_MODES}")
        return src_tokens.masked_scatter(masked, predicted.to(src_tokens.dtype))


def straight_through(value: torch.Tensor, gradient_path: torch.Tensor) -> torch.Tensor:
    """``value`` in the forward pass; in the backward pass the gradient goes to ``gradient_path``.

    Used for DPP's default gradient path: P is obtained from H by an argmax (or a sample), a
    step function whose derivative is zero almost everywhere, so the exact gradient of
    D(H̃, Ĥ) with respect to the masked pass is zero through the fill-in. The straight-through
    estimator (Bengio et al., 2013) takes the Jacobian dH̃/dH as the identity: the
    penalty is evaluated on the restored sentence's states H̃ and its gradient
    softmax(H̃) − softmax(Ĥ) is applied to H, the states the restoration was decoded from.
    It costs no extra forward with gradient and no second backward.
    """
    return gradient_path + (value - gradient_path).detach()


def per_position_distance(
    target_states: torch.Tensor, states: torch.Tensor, distance: str = "kl"
) -> torch.Tensor:
    """D(states, target_states) at every position: (B, T, C) × (B, T, C) → (B, T), float32.

    The softmax is over the hidden dimension C. ``target_states`` (Ĥ) is treated as a
    constant by the callers (it comes from a no-grad pass).
    """
    log_p = F.log_softmax(states.float(), dim=-1)
    log_q = F.log_softmax(target_states.float(), dim=-1)
    if distance == "kl":
        return (log_q.exp() * (log_q - log_p)).sum(dim=-1)
    if distance == "mse":
        return (log_p.exp() - log_q.exp()).pow(2).sum(dim=-1)
    raise ValueError(f"unknown distance {distance!r}; expected one of {DISTANCES}")


def summed_penalty(
    target_states: torch.Tensor,
    states: torch.Tensor,
    non_pad: torch.Tensor,
    distance: str = "kl",
) -> torch.Tensor:
    """Sum of D over the non-padding positions (a scalar, float32).

    A sum, not a mean, so that fairseq can add it across batches and workers; the
    criterion turns it into a mean over positions.
    """
    per_position = per_position_distance(target_states, states, distance)
    return per_position.masked_fill(~non_pad, 0.0).sum()
