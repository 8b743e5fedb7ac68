"""The IR math against an independent, loop-based computation on fixed tensors."""
import math

import pytest
import torch
import torch.nn.functional as F

from ir_fairseq.ir_math import (
    fill_predictions,
    hidden_distribution_entropy,
    per_position_distance,
    per_sentence_sum,
    prediction_log_probs,
    restore_original,
    score_function_surrogate,
    sentence_penalties,
)

PAD = 1


def reference_distance(target_row, row, kind):
    """Plain-Python softmax and KL / squared distance for one position."""
    def softmax(values):
        top = max(values)
        exps = [math.exp(v - top) for v in values]
        total = sum(exps)
        return [e / total for e in exps]

    p, q = softmax(row), softmax(target_row)
    if kind == "kl":
        return sum(qi * (math.log(qi) - math.log(pi)) for pi, qi in zip(p, q))
    return sum((pi - qi) ** 2 for pi, qi in zip(p, q))


@pytest.mark.parametrize("kind", ["kl", "mse"])
def test_distance_matches_independent_computation(kind):
    generator = torch.Generator().manual_seed(0)
    states = torch.randn(2, 3, 5, generator=generator) * 2
    target = torch.randn(2, 3, 5, generator=generator) * 2
    got = per_position_distance(target, states, kind)
    assert got.shape == (2, 3) and got.dtype == torch.float32
    for b in range(2):
        for t in range(3):
            expected = reference_distance(target[b, t].tolist(), states[b, t].tolist(), kind)
            assert got[b, t].item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_kl_is_target_first_and_zero_on_identical_states():
    states = torch.randn(1, 2, 8)
    assert torch.allclose(per_position_distance(states, states, "kl"), torch.zeros(1, 2), atol=1e-6)
    other = torch.randn(1, 2, 8)
    forward = per_position_distance(other, states, "kl")
    backward = per_position_distance(states, other, "kl")
    assert not torch.allclose(forward, backward)  # KL is not symmetric: the order is pinned


def test_half_precision_states_are_compared_in_float32():
    states = torch.randn(1, 4, 16)
    target = torch.randn(1, 4, 16)
    exact = per_position_distance(target, states, "kl")
    half = per_position_distance(target.half(), states.half(), "kl")
    assert half.dtype == torch.float32
    assert torch.allclose(half, exact, rtol=1e-2, atol=1e-3)


def test_padding_positions_are_excluded_from_the_sum():
    states, target = torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    non_pad = torch.tensor([[True, True, True, False], [True, True, False, False]])
    per_position = per_position_distance(target, states, "kl")
    expected = torch.stack([per_position[0, :3].sum(), per_position[1, :2].sum()])
    assert torch.allclose(sentence_penalties(target, states, non_pad, "kl"), expected, rtol=1e-6)
    states_changed = states.clone()
    states_changed[0, 3] += 100.0  # a padding position: must not matter
    assert torch.allclose(sentence_penalties(target, states_changed, non_pad), expected, rtol=1e-6)


def test_restore_original_takes_targets_on_masked_positions():
    src = torch.tensor([[0, 50, 4, 50, 2, PAD]])  # 50 = <mask>
    target = torch.tensor([[PAD, 7, PAD, 9, PAD, PAD]])
    assert restore_original(src, target, PAD).tolist() == [[0, 7, 4, 9, 2, PAD]]


def test_fill_writes_predictions_in_order_and_never_special_symbols():
    src = torch.tensor([[0, 50, 4, 50, 2], [0, 5, 50, 2, PAD]])
    masked = src.eq(50)
    vocab = 12
    logits = torch.full((3, vocab), -5.0)
    logits[0, 8] = 3.0
    logits[1, PAD] = 9.0  # the model prefers <pad> here: never written into P
    logits[1, 10] = 2.0
    logits[2, 11] = 1.0
    log_probs = F.log_softmax(logits, dim=-1)
    forbidden = torch.arange(4)
    filled, predicted = fill_predictions(src, masked, log_probs, forbidden, "argmax")
    assert filled.tolist() == [[0, 8, 4, 10, 2], [0, 5, 11, 2, PAD]]
    assert predicted.tolist() == [8, 10, 11]
    torch.manual_seed(0)
    sampled, _ = fill_predictions(src, masked, log_probs, forbidden, "sample")
    assert not (sampled[masked].unsqueeze(-1) == forbidden).any()
    assert torch.equal(sampled[~masked], src[~masked])


def test_prediction_log_probs_are_renormalised_without_forbidden_symbols():
    logits = torch.tensor([[2.0, 0.0, 1.0, -1.0]])
    log_probs = F.log_softmax(logits, dim=-1)
    got = prediction_log_probs(log_probs, torch.tensor([2]), torch.tensor([0]))
    expected = math.log(math.exp(1.0) / (math.exp(0.0) + math.exp(1.0) + math.exp(-1.0)))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_per_sentence_sum_places_masked_values_by_row():
    masked = torch.tensor([[False, True, True], [True, False, False]])
    assert per_sentence_sum(masked, torch.tensor([1.0, 2.0, 4.0])).tolist() == [3.0, 4.0]


def test_score_function_surrogate_is_zero_valued_and_unbiased():
    """Monte Carlo: the surrogate's gradient matches the exact gradient of E[penalty]."""
    torch.manual_seed(0)
    vocab, draws = 4, 40000
    logits = torch.tensor([0.3, -0.2, 1.0, 0.1], requires_grad=True)
    penalty_of_token = torch.tensor([0.5, 2.0, 0.1, 1.0])
    exact = torch.autograd.grad((F.softmax(logits, -1) * penalty_of_token).sum(), logits)[0]

    forbidden = torch.tensor([], dtype=torch.long)
    batch_log_probs = F.log_softmax(logits, -1).unsqueeze(0).expand(draws, vocab)
    src = torch.full((draws, 1), 50)
    _, predicted = fill_predictions(src, src.eq(50), batch_log_probs, forbidden, "sample")
    log_prob = prediction_log_probs(batch_log_probs, predicted, forbidden)
    surrogate = score_function_surrogate(penalty_of_token[predicted], torch.ones(draws), log_prob)
    assert surrogate.item() == 0.0
    estimate = torch.autograd.grad(surrogate / draws, logits)[0]
    assert torch.allclose(estimate, exact, atol=0.02), (estimate, exact)


def test_hidden_distribution_entropy_is_summed_over_non_pad_positions():
    generator = torch.Generator().manual_seed(0)
    states = torch.randn(2, 3, 5, generator=generator) * 3
    non_pad = torch.tensor([[True, True, False], [True, False, False]])
    expected = 0.0
    for b, t in [(0, 0), (0, 1), (1, 0)]:
        probs = [math.exp(v) for v in states[b, t].tolist()]
        probs = [v / sum(probs) for v in probs]
        expected -= sum(v * math.log(v) for v in probs)
    assert hidden_distribution_entropy(states, non_pad).item() == pytest.approx(expected, rel=1e-5)
    # equal states are the uniform distribution; one dominant dimension is near zero entropy
    uniform = torch.zeros(1, 2, 5)
    assert hidden_distribution_entropy(uniform, torch.ones(1, 2, dtype=torch.bool)).item() == pytest.approx(2 * math.log(5))
    peaked = torch.zeros(1, 1, 5)
    peaked[..., 2] = 30.0
    assert hidden_distribution_entropy(peaked, torch.ones(1, 1, dtype=torch.bool)).item() < 1e-9
