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
    masked_log_probs: torch.Tensor,
    forbidden_ids: torch.Tensor,
    mode: str = "sample",
):
    """Return P (W' with the model's predictions written at the masked positions D) and the
    predicted ids, one per row of ``masked_log_probs``.

    ``masked_log_probs`` are the MLM log-probabilities with one row per True entry of
    ``masked`` in row-major order (fairseq's LM head with ``masked_tokens``); the criterion
    shares them with the cross-entropy, so the fill adds one temporary vocabulary-sized
    tensor and no softmax of its own. ``forbidden_ids`` are never written into P (padding,
    <s>, </s>, <unk>, <mask>): a predicted <pad> would silently change the padding mask of the
    P pass. ``sample`` draws from the predicted distribution restricted to the other symbols
    (torch's global RNG, which fairseq reseeds every update); ``argmax`` takes the most
    likely one.
    """
    with torch.no_grad():
        probs = masked_log_probs.detach().float().exp()
        probs.index_fill_(-1, forbidden_ids, 0.0)
        if mode == "argmax":
            predicted = probs.argmax(dim=-1)
        elif mode == "sample":
            # inverse-CDF sampling: a cumsum and a binary search per row, several times
            # cheaper than torch.multinomial's exponential race over the whole vocabulary
            # (threshold in (0, total], so the first cumulative >= it has probability > 0)
            cumulative = probs.cumsum(dim=-1)
            threshold = (1.0 - torch.rand_like(cumulative[..., :1])) * cumulative[..., -1:]
            predicted = torch.searchsorted(cumulative, threshold).squeeze(-1)
        else:
            raise ValueError(f"unknown fill mode {mode!r}; expected one of {FILL_MODES}")
        restored = src_tokens.masked_scatter(masked, predicted.to(src_tokens.dtype))
    return restored, predicted


def prediction_log_probs(masked_log_probs, predicted, forbidden_ids):
    """log p(w'_k | W') of the filled-in predictions under the fill distribution, i.e. the
    MLM distribution renormalised without the forbidden symbols (with gradient)."""
    chosen = masked_log_probs.gather(-1, predicted.unsqueeze(-1)).squeeze(-1)
    forbidden_mass = masked_log_probs.index_select(-1, forbidden_ids).exp().sum(dim=-1)
    return chosen - torch.log((1.0 - forbidden_mass).clamp(min=1e-6))


def per_sentence_sum(masked: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Sum, per sentence, of values given at the masked positions in row-major order: (B,).

    Uses ``masked_scatter`` rather than ``nonzero``, so it needs no device-to-host sync.
    """
    placed = torch.zeros(masked.shape, dtype=values.dtype, device=values.device)
    return placed.masked_scatter(masked, values.reshape(-1)).sum(dim=-1)


def score_function_surrogate(
    sentence_penalty: torch.Tensor, sentence_positions: torch.Tensor, sentence_log_prob: torch.Tensor
) -> torch.Tensor:
    """A zero-valued term whose gradient is the score-function (REINFORCE) estimate of the
    gradient of the expected DPP with respect to the prediction distribution.

    DPP depends on the model's predictions only through the discrete tokens written into P,
    so it has no pathwise gradient to the predictor. For P sampled from the model,
    grad E[DPP_i] = E[(DPP_i - b_i) grad log p(P_i | W')] for any b_i that does not depend
    on P_i. Each sentence's reward is its mean DPP per position; b_i is the mean reward of
    the *other* sentences of the batch (leave-one-out, so the estimate stays unbiased), and
    the advantage is scaled back to the sentence's summed DPP. Predictions that restore a
    sentence whose representation drifts from the original's become less likely. The
    gradient flows through the ordinary MLM pass only: no extra forward with gradient, no
    extra backward.
    """
    with torch.no_grad():
        reward = sentence_penalty / sentence_positions.clamp(min=1)
        count = reward.numel()
        if count > 1:
            baseline = (reward.sum() - reward) / (count - 1)
        else:
            baseline = torch.zeros_like(reward)
        advantage = (reward - baseline) * sentence_positions
    surrogate = (advantage * sentence_log_prob).sum()
    return surrogate - surrogate.detach()


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


def sentence_penalties(
    target_states: torch.Tensor,
    states: torch.Tensor,
    non_pad: torch.Tensor,
    distance: str = "kl",
) -> torch.Tensor:
    """Sum of D over each sentence's non-padding positions: (B,), float32.

    Sums, not means, so that fairseq can add them across batches and workers; the
    criterion turns them into a mean over positions. Padding states are zeroed *before* the
    softmax, so that whatever an encoder leaves there (NaN for a row that is all padding)
    never meets the arithmetic, not even as NaN × 0 in the backward pass.
    """
    keep = non_pad.unsqueeze(-1)
    per_position = per_position_distance(
        target_states.float().masked_fill(~keep, 0.0), states.float().masked_fill(~keep, 0.0), distance
    )
    return per_position.masked_fill(~non_pad, 0.0).sum(dim=-1)


def hidden_distribution_entropy(states: torch.Tensor, non_pad: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the per-position softmax over the hidden dimension, summed over the
    non-pad positions: a scalar, float32.

    A diagnostic, not part of the loss. Far below log(C) means the distributions that ECP and
    DPP compare put their mass on a few dimensions that every position shares; the penalties
    then vanish whatever the corruption did to the content. Small models trained with ECP
    reach this state (one hidden dimension carrying most of the softmax mass).
    """
    log_p = F.log_softmax(states.float().masked_fill(~non_pad.unsqueeze(-1), 0.0), dim=-1)
    entropy = -(log_p.exp() * log_p).sum(dim=-1)
    return entropy.masked_fill(~non_pad, 0.0).sum()
