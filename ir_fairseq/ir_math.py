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
NORMALIZATIONS = ("none", "standardize")
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


def restore_sentence_markers(restored: torch.Tensor, original: torch.Tensor, masked: torch.Tensor,
                             marker_ids: torch.Tensor):
    """P with the original ``<s>``/``</s>`` written back where fairseq's masking hit them, and
    those positions: (B, T), (B, T) bool.

    fairseq's masking may pick the sentence markers, but the fill never writes a special
    symbol, so without this P would differ from W there whatever the model predicts and DPP
    would have a floor. Written back, they are not predictions: DPP neither rewards nor
    punishes the model for them (``per_sentence_sum``'s ``drop``).
    """
    markers = masked & torch.isin(original, marker_ids)
    return torch.where(markers, original, restored), markers


def per_sentence_sum(masked: torch.Tensor, values: torch.Tensor, drop: torch.Tensor = None) -> torch.Tensor:
    """Sum, per sentence, of values given at the masked positions in row-major order: (B,);
    positions where ``drop`` (B, T) is True do not count.

    Uses ``masked_scatter`` rather than ``nonzero``, so it needs no device-to-host sync.
    """
    placed = torch.zeros(masked.shape, dtype=values.dtype, device=values.device)
    placed = placed.masked_scatter(masked, values.reshape(-1))
    if drop is not None:
        placed = placed.masked_fill(drop, 0.0)
    return placed.sum(dim=-1)


def score_function_surrogate(
    sentence_penalty: torch.Tensor, sentence_positions: torch.Tensor, sentence_log_prob: torch.Tensor,
    baseline_penalty: torch.Tensor = None, previous_reward: torch.Tensor = None,
) -> torch.Tensor:
    """A zero-valued term whose gradient is the score-function (REINFORCE) estimate of the
    gradient of the expected DPP with respect to the prediction distribution.

    DPP depends on the model's predictions only through the discrete tokens written into P,
    so it has no pathwise gradient to the predictor. For P sampled from the model,
    grad E[DPP_i] = E[(DPP_i - b_i) grad log p(P_i | W')] for any b_i that does not depend
    on P_i. Each sentence's reward is its mean DPP per position; b_i is the mean reward of
    the *other* sentences of the batch (leave-one-out, so the estimate stays unbiased), and
    the advantage is scaled back to the sentence's summed DPP. A batch of one sentence has no
    other sentence: its baseline is ``previous_reward`` (a running mean of earlier batches'
    rewards, independent of this sample, so still unbiased), or none before the first batch.
    ``baseline_penalty`` (B,)
    replaces that baseline by the sentence's own DPP under another fill that does not depend
    on the sample, e.g. the argmax fill (a self-critical baseline). Predictions that restore a
    sentence whose representation drifts from the original's become less likely. The
    gradient flows through the ordinary MLM pass only: no extra forward with gradient, no
    extra backward.
    """
    with torch.no_grad():
        reward = sentence_penalty / sentence_positions.clamp(min=1)
        count = reward.numel()
        if baseline_penalty is not None:
            baseline = baseline_penalty / sentence_positions.clamp(min=1)
        elif count > 1:
            baseline = (reward.sum() - reward) / (count - 1)
        elif previous_reward is not None:
            baseline = previous_reward.to(reward).expand_as(reward)
        else:
            baseline = torch.zeros_like(reward)
        advantage = (reward - baseline) * sentence_positions
    surrogate = (advantage * sentence_log_prob).sum()
    return surrogate - surrogate.detach()


def hidden_log_probs(states: torch.Tensor, non_pad: torch.Tensor, standardizer=None) -> torch.Tensor:
    """log softmax over the hidden dimension at every position: (B, T, C) -> (B, T, C), float32.

    Padding states are zeroed *before* the softmax, so that whatever an encoder leaves there
    (NaN for a row that is all padding) never meets the arithmetic, not even as NaN × 0 in the
    backward pass. ``standardizer`` is the (mean, std) of ``standardize_stats``, or None (the
    paper).
    """
    states = states.float()
    if standardizer is not None:
        mean, std = standardizer
        states = (states - mean) / std
    return F.log_softmax(states.masked_fill(~non_pad.unsqueeze(-1), 0.0), dim=-1)


def standardize_stats(target_states: torch.Tensor, non_pad: torch.Tensor, eps: float = 1e-5):
    """Per-hidden-dimension mean and standard deviation of Ĥ over the non-pad positions, without
    gradient: (C,), (C,).

    Subtracting them from H, Ĥ and H̃ (and dividing by them) before the softmax makes the
    penalties invariant to a per-dimension shift and positive scale of the states: exactly the
    transforms of the final LayerNorm that a post-LN encoder's LM head can absorb without
    changing the MLM loss, along which the paper's penalties can fall to zero.
    """
    with torch.no_grad():
        keep = non_pad.unsqueeze(-1)
        states = target_states.float().masked_fill(~keep, 0.0)
        count = non_pad.sum().clamp(min=1)
        mean = states.sum(dim=(0, 1)) / count
        centred = (states - mean).masked_fill(~keep, 0.0)
        std = (centred.pow(2).sum(dim=(0, 1)) / count).sqrt().clamp(min=eps)
    return mean, std


def distance_between(target_log_probs: torch.Tensor, log_probs: torch.Tensor, distance: str = "kl") -> torch.Tensor:
    """D at every position from the two log-distributions (Ĥ's first): (B, T, C) -> (B, T)."""
    if distance == "kl":
        return (target_log_probs.exp() * (target_log_probs - log_probs)).sum(dim=-1)
    if distance == "mse":
        return (log_probs.exp() - target_log_probs.exp()).pow(2).sum(dim=-1)
    raise ValueError(f"unknown distance {distance!r}; expected one of {DISTANCES}")


def sentence_penalties(
    target_log_probs: torch.Tensor,
    states: torch.Tensor,
    non_pad: torch.Tensor,
    distance: str = "kl",
    standardizer=None,
) -> torch.Tensor:
    """Sum of D over each sentence's non-padding positions: (B,), float32.

    ``target_log_probs`` is ``hidden_log_probs`` of Ĥ, computed once per step and shared by
    ECP, DPP and the diagnostics. Sums, not means, so that fairseq can add them across batches
    and workers; the criterion turns them into a mean over positions.
    """
    log_probs = hidden_log_probs(states, non_pad, standardizer)
    return distance_between(target_log_probs, log_probs, distance).masked_fill(~non_pad, 0.0).sum(dim=-1)


def distribution_diagnostics(target_log_probs: torch.Tensor, non_pad: torch.Tensor):
    """Entropy (nats) and largest probability of the per-position hidden distribution of Ĥ,
    each summed over the non-pad positions: two float32 scalars.

    Diagnostics, not part of the loss. An entropy far below log(C), or a top mass near 1,
    means the distributions ECP and DPP compare put their mass on a few dimensions that every
    position shares; the penalties then vanish whatever the corruption did to the content.
    """
    probs = target_log_probs.exp()
    entropy = -(probs * target_log_probs).sum(dim=-1).masked_fill(~non_pad, 0.0).sum()
    top_mass = probs.max(dim=-1).values.masked_fill(~non_pad, 0.0).sum()
    return entropy, top_mass

