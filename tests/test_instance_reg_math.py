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

pytestmark = pytest.mark.quick  # bash scripts/test.sh --quick

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
    generator = torch.Generator().manual_seed(1)
    states = torch.randn(1, 2, 8, generator=generator)
    assert torch.allclose(per_position_distance(states, states, "kl"), torch.zeros(1, 2), atol=1e-6)
    other = torch.randn(1, 2, 8, generator=generator)
    forward = per_position_distance(other, states, "kl")
    backward = per_position_distance(states, other, "kl")
    assert not torch.allclose(forward, backward)  # KL is not symmetric: the order is pinned


def test_half_precision_states_are_compared_in_float32():
    generator = torch.Generator().manual_seed(2)
    states = torch.randn(1, 4, 16, generator=generator)
    target = torch.randn(1, 4, 16, generator=generator)
    exact = per_position_distance(target, states, "kl")
    half = per_position_distance(target.half(), states.half(), "kl")
    assert half.dtype == torch.float32
    assert torch.allclose(half, exact, rtol=1e-2, atol=1e-3)


def test_padding_positions_are_excluded_from_the_sum():
    generator = torch.Generator().manual_seed(4)
    states, target = torch.randn(2, 4, 6, generator=generator), torch.randn(2, 4, 6, generator=generator)
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

    # sampled: each masked position has two symbols of its own (the others impossible) and
    # the forbidden ones, which carry 4e³ / (4e³ + 2) ≈ 97.5% of its mass
    supports = [[4, 8], [9, 10], [5, 11]]
    logits = torch.full((3, vocab), float("-inf"))
    for row, ids in enumerate(supports):
        logits[row, ids] = 0.0
    logits[:, forbidden] = 3.0
    draws = 2000
    torch.manual_seed(0)
    sampled, _ = fill_predictions(src.repeat(draws, 1), masked.repeat(draws, 1),
                                  F.log_softmax(logits, dim=-1).repeat(draws, 1), forbidden, "sample")
    for (row, column), ids in zip(masked.nonzero().tolist(), supports):
        # 2000 draws of a fair choice between two symbols: both appear (else p = 2^-1999)
        assert set(sampled[row::2, column].tolist()) == set(ids), (row, column)
    unmasked = ~masked.repeat(draws, 1)
    assert torch.equal(sampled[unmasked], src.repeat(draws, 1)[unmasked])


def test_sampled_fill_and_its_log_probs_follow_the_distribution_renormalised_without_forbidden_symbols():
    """The sampler's empirical frequencies and the log-probabilities the score function uses,
    both against the renormalised distribution computed here in float64, with forbidden
    symbols that carry most of the mass."""
    generator = torch.Generator().manual_seed(0)
    vocab, draws = 10, 100_000
    forbidden = torch.tensor([0, 1, 2, 3, 9])  # specials first, a madeupword-like symbol last
    allowed = torch.ones(vocab, dtype=torch.bool)
    allowed[forbidden] = False
    logits = torch.randn(3, vocab, generator=generator, dtype=torch.float64)
    logits[:, forbidden] += 1.5
    fill_probs = torch.softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
    assert (torch.softmax(logits, dim=-1)[:, forbidden].sum(dim=-1) > 0.6).all()
    log_probs = F.log_softmax(logits.float(), dim=-1).repeat(draws, 1)
    src = torch.full((draws, 3), 50)  # every position masked: position j of each row gets distribution j
    torch.manual_seed(1)
    _, predicted = fill_predictions(src, src.eq(50), log_probs, forbidden, "sample")

    frequencies = F.one_hot(predicted.view(draws, 3), vocab).double().mean(dim=0)
    assert (frequencies[:, forbidden] == 0).all()
    # 100000 draws per distribution: a frequency's standard error is sqrt(q(1-q)/draws) <= 0.0016;
    # at 5 standard errors a correct sampler fails one of the 15 allowed cells with probability < 1e-5
    standard_error = (fill_probs * (1 - fill_probs) / draws).sqrt()
    assert ((frequencies - fill_probs).abs() <= 5 * standard_error).all(), (frequencies - fill_probs) / standard_error
    # each drawn symbol's log-probability is the one of the distribution it was drawn from
    got = prediction_log_probs(log_probs, predicted, forbidden).view(draws, 3)
    expected = fill_probs.log()[torch.arange(3), predicted.view(draws, 3)]
    assert torch.allclose(got.double(), expected, atol=1e-5)


def test_per_sentence_sum_places_masked_values_by_row():
    masked = torch.tensor([[False, True, True], [True, False, False]])
    assert per_sentence_sum(masked, torch.tensor([1.0, 2.0, 4.0])).tolist() == [3.0, 4.0]
    drop = torch.tensor([[False, False, True], [False, False, False]])
    assert per_sentence_sum(masked, torch.tensor([1.0, 2.0, 4.0]), drop=drop).tolist() == [1.0, 4.0]


def test_score_function_surrogate_is_zero_valued_and_unbiased():
    """Monte Carlo: the surrogate's gradient matches the exact gradient of E[penalty] under the
    fill distribution, the MLM distribution renormalised without the forbidden symbols (which
    carry mass here, and whose logits the fill distribution does not depend on)."""
    vocab, draws = 6, 100_000
    logits = torch.tensor([0.8, 0.3, -0.2, 1.0, 0.1, 0.6], requires_grad=True)
    forbidden = torch.tensor([0, 5])
    allowed = torch.tensor([False, True, True, True, True, False])
    penalty_of_token = torch.tensor([9.0, 0.5, 2.0, 0.1, 1.0, 9.0])  # never drawn: 9.0 never counts
    fill_probs = F.softmax(logits.double().masked_fill(~allowed, float("-inf")), -1)
    exact = torch.autograd.grad((fill_probs * penalty_of_token.double()).sum(), logits)[0]
    assert (exact[forbidden] == 0).all() and (exact[allowed].abs() > 0.02).all()

    batch_log_probs = F.log_softmax(logits, -1).unsqueeze(0).expand(draws, vocab)
    src = torch.full((draws, 1), 50)
    torch.manual_seed(0)
    _, predicted = fill_predictions(src, src.eq(50), batch_log_probs, forbidden, "sample")
    log_prob = prediction_log_probs(batch_log_probs, predicted, forbidden)
    reward = penalty_of_token[predicted].double()
    argmax_penalty = penalty_of_token[logits.masked_fill(~allowed, float("-inf")).argmax()].expand(draws)
    # leave-one-out, and the argmax fill's penalty as each draw's baseline: both unbiased
    # (which has the lower variance depends on the model: examples/dpp_gradient_noise.py)
    for baseline in (None, argmax_penalty):
        surrogate = score_function_surrogate(penalty_of_token[predicted], torch.ones(draws), log_prob, baseline)
        assert surrogate.item() == 0.0
        estimate = torch.autograd.grad(surrogate / draws, logits, retain_graph=True)[0]
        # the estimate is a mean over draws of advantage × score, the score of the fill
        # distribution being onehot(x) - q on the allowed symbols and 0 on the forbidden ones;
        # tolerance: 5 standard errors of that mean, from the draws' own spread (about 0.002)
        others = (reward.sum() - reward) / (draws - 1) if baseline is None else baseline.double()
        score = (F.one_hot(predicted, vocab).double() - fill_probs.detach()).masked_fill(~allowed, 0.0)
        standard_error = ((reward - others).unsqueeze(-1) * score).std(dim=0) / math.sqrt(draws)
        assert ((estimate.double() - exact).abs() <= 5 * standard_error + 1e-6).all(), (
            baseline is None, estimate, exact, standard_error)


def test_a_single_sentence_takes_the_previous_reward_as_its_baseline():
    log_prob = torch.zeros(1, requires_grad=True)
    penalty, positions = torch.tensor([6.0]), torch.tensor([3])  # reward 2.0 per position

    def advantage(previous_reward, penalty=penalty, positions=positions, log_prob=log_prob):
        surrogate = score_function_surrogate(penalty, positions, log_prob, previous_reward=previous_reward)
        return torch.autograd.grad(surrogate.sum(), log_prob)[0]

    assert advantage(torch.tensor(0.5)).item() == pytest.approx((2.0 - 0.5) * 3)
    assert advantage(None).item() == pytest.approx(2.0 * 3)  # before any batch: no baseline
    two = torch.zeros(2, requires_grad=True)  # two sentences: leave-one-out, the previous reward unused
    assert advantage(torch.tensor(0.5), torch.tensor([6.0, 2.0]), torch.tensor([3, 2]), two).tolist() == \
        pytest.approx([(2.0 - 1.0) * 3, (1.0 - 2.0) * 2])
