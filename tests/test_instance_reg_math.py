"""The IR math against an independent, loop-based computation on fixed tensors."""
import math

import pytest
import torch
import torch.nn.functional as F

from ir_fairseq.ir_math import (
    distance_between,
    distribution_diagnostics,
    fill_predictions,
    hidden_log_probs,
    per_sentence_sum,
    prediction_log_probs,
    restore_original,
    score_function_surrogate,
    sentence_penalties,
    standardize_stats,
)

PAD = 1


def per_position_distance(target_states, states, kind="kl"):
    """D(states, target_states) at every position, through the functions the criterion uses."""
    every = torch.ones(states.shape[:-1], dtype=torch.bool)
    return distance_between(hidden_log_probs(target_states, every), hidden_log_probs(states, every), kind)


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
    target_log_probs = hidden_log_probs(target, non_pad)
    assert torch.allclose(sentence_penalties(target_log_probs, states, non_pad, "kl"), expected, rtol=1e-6)
    states_changed = states.clone()
    states_changed[0, 3] += 100.0  # a padding position: must not matter
    assert torch.allclose(sentence_penalties(target_log_probs, states_changed, non_pad), expected, rtol=1e-6)


def test_standardize_uses_the_targets_non_pad_statistics_and_removes_shift_and_scale():
    generator = torch.Generator().manual_seed(3)
    target, states = torch.randn(2, 5, 6, generator=generator), torch.randn(2, 5, 6, generator=generator)
    non_pad = torch.tensor([[True] * 5, [True, True, True, False, False]])
    target[1, 3:] = float("nan")  # what an encoder may leave at padding: never reaches the statistics
    mean, std = standardize_stats(target, non_pad)
    rows = [target[b, t].tolist() for b in range(2) for t in range(5) if non_pad[b, t]]
    for d in range(6):
        column = [row[d] for row in rows]
        expected_mean = sum(column) / len(column)
        expected_std = math.sqrt(sum((v - expected_mean) ** 2 for v in column) / len(column))
        assert mean[d].item() == pytest.approx(expected_mean, rel=1e-5)
        assert std[d].item() == pytest.approx(expected_std, rel=1e-5)

    def penalties(h, h_hat, standardize):
        stats = standardize_stats(h_hat, non_pad) if standardize else None
        return sentence_penalties(hidden_log_probs(h_hat, non_pad, stats), h, non_pad, "kl", stats)

    shift, scale = torch.randn(6, generator=generator) * 3, torch.rand(6, generator=generator) * 4 + 0.1
    moved = lambda x: x * scale + shift  # noqa: E731  (what the final LayerNorm's γ, β can do)
    assert torch.allclose(penalties(moved(states), moved(target), True), penalties(states, target, True),
                          rtol=1e-4, atol=1e-6)
    assert not torch.allclose(penalties(moved(states), moved(target), False), penalties(states, target, False),
                              rtol=1e-2)


def test_diagnostics_are_entropy_and_top_mass_summed_over_non_pad_positions():
    states = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [8.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]]])
    non_pad = torch.tensor([[True, True, False]])
    entropy, top_mass = distribution_diagnostics(hidden_log_probs(states, non_pad), non_pad)
    peaked = [math.exp(8.0) / (math.exp(8.0) + 3), 1 / (math.exp(8.0) + 3)]
    expected_entropy = math.log(4) - (peaked[0] * math.log(peaked[0]) + 3 * peaked[1] * math.log(peaked[1]))
    assert entropy.item() == pytest.approx(expected_entropy, rel=1e-5)
    assert top_mass.item() == pytest.approx(0.25 + peaked[0], rel=1e-5)


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
    drop = torch.tensor([[False, False, True], [False, False, False]])
    assert per_sentence_sum(masked, torch.tensor([1.0, 2.0, 4.0]), drop=drop).tolist() == [1.0, 4.0]


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
    # leave-one-out, and the argmax fill's penalty as each draw's baseline: both unbiased
    # (which has the lower variance depends on the model: examples/dpp_gradient_noise.py)
    argmax_penalty = penalty_of_token[logits.argmax()].expand(draws)
    for baseline in (None, argmax_penalty):
        surrogate = score_function_surrogate(penalty_of_token[predicted], torch.ones(draws), log_prob, baseline)
        assert surrogate.item() == 0.0
        estimate = torch.autograd.grad(surrogate / draws, logits, retain_graph=True)[0]
        assert torch.allclose(estimate, exact, atol=0.02), (baseline is None, estimate, exact)
