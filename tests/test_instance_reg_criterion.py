"""The instance_reg criterion on a real fairseq RoBERTa, task and batch."""
import math

import pytest
import torch

from builders import build, first_batch
from ir_fairseq import IRUserError

pytestmark = pytest.mark.quick  # bash scripts/test.sh --quick


def encoder_calls(model):
    """Record, for every forward of the RoBERTa encoder, whether it builds a graph."""
    calls = []
    handle = model.encoder.register_forward_hook(
        lambda module, args, output: calls.append(output[0].requires_grad)
    )
    return calls, handle


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def loss_and_grads(crit, model, sample):
    model.zero_grad()
    loss, sample_size, log = crit(model, sample)
    loss.backward()
    return loss.detach(), sample_size, log, grads(model)


def fill_forbidden_ids(dictionary):
    """What P may never hold (``fill_predictions``): <s>, <pad>, </s>, <unk>, <mask> and the
    madeupword symbols fairseq-preprocess pads the dictionary with."""
    return [index for index, symbol in enumerate(dictionary.symbols)
            if symbol in ("<s>", "<pad>", "</s>", "<unk>", "<mask>") or symbol.startswith("madeupword")]


def prefer_forbidden_symbols(model, forbidden):
    """Make the forbidden symbols the LM head's favourites everywhere: only a fill that skips
    them gets P right. H, Ĥ and H̃ come before the LM head and do not change."""
    with torch.no_grad():
        model.encoder.lm_head.bias[forbidden] += 5.0


def hidden_kl(target_states, states):
    """The paper's D_KL(X, Y) = KL(softmax(Y) ‖ softmax(X)) over the hidden dimension, at every
    position, float64: (B, T) from states X and target_states Y."""
    target_log_probs = torch.log_softmax(target_states.double(), dim=-1)
    log_probs = torch.log_softmax(states.double(), dim=-1)
    return (target_log_probs.exp() * (target_log_probs - log_probs)).sum(dim=-1)


def reference_step(model, sample, dictionary, restored=None, ecp_target="original"):
    """The step's quantities from the model's own passes, in float64 and in plain tensor code:
    the summed MLM cross-entropy on D, P (the argmax of the allowed symbols at D, the original
    <s>/</s> where the masking hit them) unless ``restored`` is given, and per sentence, over
    its non-pad positions, ECP = Σ D_KL(H, Ĥ) (or D_KL(H, H̃)), DPP = Σ D_KL(H̃, Ĥ) and Ĥ's entropy."""
    pad = dictionary.pad()
    masked_input = sample["net_input"]["src_tokens"]  # W'
    masked = sample["target"].ne(pad)  # D
    original = torch.where(masked, sample["target"], masked_input)  # W
    non_pad = masked_input.ne(pad)
    with torch.no_grad():
        logits = model(masked_input, masked_tokens=masked)[0].double()
        log_probs = torch.log_softmax(logits, dim=-1)
        targets = original[masked]
        mlm = -log_probs[torch.arange(targets.numel()), targets].sum()
        if restored is None:
            allowed = logits.clone()
            allowed[:, fill_forbidden_ids(dictionary)] = float("-inf")
            restored = masked_input.clone()
            restored[masked] = allowed.argmax(dim=-1)
            marker = masked & (original.eq(dictionary.bos()) | original.eq(dictionary.eos()))
            restored[marker] = original[marker]
        states = model(masked_input, features_only=True)[0]  # H
        target_states = model(original, features_only=True)[0]  # Ĥ
        restored_states = model(restored, features_only=True)[0]  # H̃
    ecp_reference = restored_states if ecp_target == "restored" else target_states
    per_sentence = lambda values: torch.where(non_pad, values, 0.0).sum(dim=-1)  # noqa: E731
    target_log_probs = torch.log_softmax(target_states.double(), dim=-1)
    return {
        "mlm": mlm, "logits": logits, "original": original, "restored": restored,
        "masked": int(masked.sum()), "positions": int(non_pad.sum()),
        "ecp": per_sentence(hidden_kl(ecp_reference, states)),
        "dpp": per_sentence(hidden_kl(target_states, restored_states)),
        "entropy": per_sentence(-(target_log_probs.exp() * target_log_probs).sum(dim=-1)),
    }


def encoder_inputs(model):
    """Record the tokens of every forward of the RoBERTa encoder: W', then Ĥ's W and H̃'s P."""
    inputs = []
    handle = model.encoder.register_forward_hook(lambda module, args, output: inputs.append(args[0].clone()))
    return inputs, handle


def test_weights_zero_equals_fairseq_masked_lm_and_skips_extra_passes(corpus):
    task, model, ir = build(corpus["bin"], "--ecp-weight", "0", "--dpp-weight", "0")
    _, _, masked_lm = build(corpus["bin"], criterion="masked_lm")
    sample = first_batch(task)
    model.eval()  # same dropout-free forward for both criteria
    calls, handle = encoder_calls(model)
    ir_loss, ir_size, ir_log = ir(model, sample)
    handle.remove()
    ref_loss, ref_size, _ = masked_lm(model, sample)
    assert len(calls) == 1  # no Ĥ / H̃ passes when IR is off
    assert ir_size == ref_size
    assert abs(ir_loss.item() - ref_loss.item()) <= 1e-6 * max(1.0, abs(ref_loss.item()))
    assert ir_log["ecp"] == 0 and ir_log["ir_positions"] == 0


@pytest.mark.parametrize("fill,dpp_grad,ecp_target", [
    ("argmax", "forward", "original"),
    ("argmax", "none", "restored"),
    ("sample", "score_function", "original"),  # the defaults: P as the criterion drew it
])
def test_loss_and_penalties_match_an_independent_float64_recomputation(corpus, fill, dpp_grad, ecp_target):
    task, model, crit = build(corpus["bin"], "--ecp-weight", "0.5", "--dpp-weight", "2", "--ir-fill", fill,
                              "--dpp-grad", dpp_grad, "--ecp-target", ecp_target)
    dictionary = task.source_dictionary
    forbidden = torch.tensor(fill_forbidden_ids(dictionary))
    prefer_forbidden_symbols(model, forbidden)
    sample = first_batch(task)
    model.eval()  # no dropout: the reference passes see the criterion's states
    inputs, handle = encoder_inputs(model)
    torch.manual_seed(0)
    loss, sample_size, log = crit(model, sample)
    handle.remove()
    masked_input, original, restored = inputs
    if fill == "argmax":
        ref = reference_step(model, sample, dictionary, ecp_target=ecp_target)
        assert torch.equal(restored, ref["restored"])
    else:  # a drawn P cannot be recomputed: the criterion's is checked, then used
        ref = reference_step(model, sample, dictionary, restored=restored, ecp_target=ecp_target)
    assert torch.equal(masked_input, sample["net_input"]["src_tokens"]) and torch.equal(original, ref["original"])

    masked = sample["target"].ne(dictionary.pad())
    markers = masked & torch.isin(original, torch.tensor([dictionary.bos(), dictionary.eos()]))
    assert torch.isin(ref["logits"].argmax(dim=-1), forbidden).all()  # the head's favourites are all forbidden
    assert not torch.isin(restored[masked & ~markers], forbidden).any()
    assert torch.equal(restored[~masked | markers], original[~masked | markers])
    assert not torch.equal(restored, original)  # wrong predictions: H̃ differs from Ĥ

    ecp, dpp = ref["ecp"].sum(), ref["dpp"].sum()
    assert sample_size == ref["masked"] and log["ir_positions"] == ref["positions"]
    assert float(log["mlm_loss"]) == pytest.approx(float(ref["mlm"]), rel=1e-5)
    assert log["mlm_correct"] == ref["logits"].argmax(dim=-1).eq(original[masked]).sum()
    assert float(log["ecp"]) == pytest.approx(float(ecp), rel=1e-5)
    assert float(log["dpp"]) == pytest.approx(float(dpp), rel=1e-5)
    assert float(log["target_entropy"]) == pytest.approx(float(ref["entropy"].sum()), rel=1e-5)
    # fairseq divides by sample_size = m: mean CE over D + weighted mean distance per position
    expected = ref["mlm"] + (0.5 * ecp + 2.0 * dpp) / ref["positions"] * ref["masked"]
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    # swapping the two weights would move the loss by 100× the tolerance or more
    assert abs(1.5 * float(ecp - dpp)) / ref["positions"] * ref["masked"] > 1e-4 * float(loss)


def test_normalised_loss_does_not_depend_on_batch_duplication(corpus):
    # a deterministic fill, so that both batches restore the same P
    task, model, crit = build(corpus["bin"], "--ir-fill", "argmax", "--dpp-grad", "forward")
    sample = first_batch(task)
    model.eval()
    loss, size, _ = crit(model, sample)
    doubled = {
        "net_input": {k: torch.cat([v, v]) for k, v in sample["net_input"].items()},
        "target": torch.cat([sample["target"]] * 2),
        "ntokens": 2 * sample["ntokens"], "nsentences": 2 * sample["nsentences"],
    }
    loss2, size2, _ = crit(model, doubled)
    assert size2 == 2 * size
    assert (loss2 / size2).item() == pytest.approx((loss / size).item(), rel=1e-5)


@pytest.mark.parametrize("penalty", ["ecp", "dpp"])
def test_penalty_changes_gradients_and_target_passes_carry_none(corpus, penalty):
    weights = {"ecp": ("1", "0"), "dpp": ("0", "1")}[penalty]
    task, model, crit = build(corpus["bin"], "--ecp-weight", weights[0], "--dpp-weight", weights[1])
    _, _, mlm_only = build(corpus["bin"], "--ecp-weight", "0", "--dpp-weight", "0")
    sample = first_batch(task)
    model.eval()
    calls, handle = encoder_calls(model)
    _, _, _, with_penalty = loss_and_grads(crit, model, sample)
    handle.remove()
    _, _, _, without = loss_and_grads(mlm_only, model, sample)
    # main pass with a graph; Ĥ (W) and H̃ (P) passes without: no gradient into the target
    assert calls == [True, False, False]
    changed = sum(not torch.allclose(with_penalty[n], without[n], atol=1e-9) for n in without)
    assert changed > 0


@pytest.mark.parametrize("mode,expect_change,expected_calls", [
    ("score_function", True, [True, False, False]),
    ("forward", True, [True, False, True]),
    ("none", False, [True, False, False]),
])
def test_dpp_gradient_paths(corpus, mode, expect_change, expected_calls):
    fill = "argmax" if mode == "none" else "sample"
    task, model, crit = build(corpus["bin"], "--ecp-weight", "0", "--dpp-weight", "1",
                              "--dpp-grad", mode, "--ir-fill", fill)
    _, _, mlm_only = build(corpus["bin"], "--ecp-weight", "0", "--dpp-weight", "0")
    sample = first_batch(task)
    model.eval()
    calls, handle = encoder_calls(model)
    _, _, log, with_dpp = loss_and_grads(crit, model, sample)
    handle.remove()
    _, _, _, without = loss_and_grads(mlm_only, model, sample)
    assert calls == expected_calls
    assert log["dpp"] > 0
    max_difference = max((with_dpp[n] - without[n]).abs().max().item() for n in without)
    if expect_change:
        assert max_difference > 1e-7
    else:  # the released script's behaviour: DPP is logged but trains nothing
        assert max_difference == 0.0


def test_argmax_baseline_adds_one_no_grad_pass_and_changes_only_the_dpp_gradient(corpus):
    task, model, loo = build(corpus["bin"], "--ecp-weight", "0")
    _, _, argmax = build(corpus["bin"], "--ecp-weight", "0", "--dpp-baseline", "argmax")
    sample = first_batch(task)
    model.eval()
    torch.manual_seed(3)
    loss_loo, _, log_loo, grads_loo = loss_and_grads(loo, model, sample)
    calls, handle = encoder_calls(model)
    torch.manual_seed(3)  # the same sampled fill
    loss_argmax, _, log_argmax, grads_argmax = loss_and_grads(argmax, model, sample)
    handle.remove()
    assert calls == [True, False, False, False]
    assert loss_argmax.item() == pytest.approx(loss_loo.item(), rel=1e-6)  # the baseline changes no value
    assert log_argmax["dpp"].item() == pytest.approx(log_loo["dpp"].item(), rel=1e-6)
    assert max((grads_argmax[n] - grads_loo[n]).abs().max().item() for n in grads_loo) > 1e-7


def test_a_one_sentence_batch_takes_the_running_mean_of_earlier_rewards_as_its_baseline(corpus):
    """No other sentence, no leave-one-out baseline: the first such batch has none; later ones
    take the running mean of earlier rewards. The same batch again (same fill, same reward) then
    has zero advantage: the gradient is the MLM loss's alone."""
    task, model, crit = build(corpus["bin"], "--ecp-weight", "0")
    _, _, mlm_only = build(corpus["bin"], "--ecp-weight", "0", "--dpp-weight", "0")
    one = first_batch(task, batch_size=1)
    model.eval()
    _, _, _, mlm_grads = loss_and_grads(mlm_only, model, one)
    torch.manual_seed(3)
    _, _, log, first = loss_and_grads(crit, model, one)
    reward = log["dpp"].item() / log["ir_positions"].item()
    assert reward > 0 and crit.dpp_reward_mean.item() == pytest.approx(reward, rel=1e-5)
    assert max((first[n] - mlm_grads[n]).abs().max().item() for n in mlm_grads) > 1e-6
    torch.manual_seed(3)
    _, _, _, again = loss_and_grads(crit, model, one)
    assert max((again[n] - mlm_grads[n]).abs().max().item() for n in mlm_grads) < 1e-7


def test_target_passes_run_without_dropout_by_default(corpus):
    task, model, crit = build(corpus["bin"])
    sample = first_batch(task)
    model.train()
    modes = []
    handle = model.encoder.register_forward_hook(lambda m, a, o: modes.append(m.training))
    crit(model, sample)
    handle.remove()
    assert modes == [True, False, False]
    assert model.training  # restored after the target passes
    _, model2, crit2 = build(corpus["bin"], "--ir-target-dropout")
    modes.clear()
    handle = model2.encoder.register_forward_hook(lambda m, a, o: modes.append(m.training))
    crit2(model2, sample)
    handle.remove()
    assert modes == [True, True, True]


def test_instance_fraction_reweights_the_penalties_of_the_sentences_it_drew(corpus):
    task, model, crit = build(corpus["bin"], "--ir-instance-fraction", "0.5", "--ecp-weight", "0.5",
                              "--dpp-weight", "2", "--ir-fill", "argmax", "--dpp-grad", "forward")
    sample = first_batch(task, batch_size=8)
    model.eval()
    ref = reference_step(model, sample, task.source_dictionary)  # every sentence's penalties
    drawn = set()
    for seed in range(4):
        inputs, handle = encoder_inputs(model)
        torch.manual_seed(seed)
        loss, sample_size, log = crit(model, sample)
        handle.remove()
        masked_input, original, restored = inputs
        assert [len(masked_input), len(original), len(restored)] == [8, 4, 4]  # round(0.5 × 8)
        # the sentences of the target passes, found by their W (no two of the batch's are equal)
        rows = [i for row in original for i in range(8) if torch.equal(row, ref["original"][i])]
        assert len(rows) == len(set(rows)) == 4
        assert torch.equal(restored, ref["restored"][rows])
        drawn.add(frozenset(rows))

        scale = 8 / 4  # each sentence is drawn with probability 1/2: the sums stay unbiased
        ecp, dpp = scale * ref["ecp"][rows].sum(), scale * ref["dpp"][rows].sum()
        assert log["ir_positions"] == ref["positions"]  # all sentences' positions: the estimate's denominator
        assert float(log["ecp"]) == pytest.approx(float(ecp), rel=1e-5)
        assert float(log["dpp"]) == pytest.approx(float(dpp), rel=1e-5)
        assert float(log["target_entropy"]) == pytest.approx(float(scale * ref["entropy"][rows].sum()), rel=1e-5)
        expected = ref["mlm"] + (0.5 * ecp + 2.0 * dpp) / ref["positions"] * ref["masked"]
        assert float(loss) == pytest.approx(float(expected), rel=1e-6)
        assert sample_size == ref["masked"]
        # the half's estimate is not the whole batch's value, so the test tells them apart
        assert abs(float(ecp - ref["ecp"].sum())) > 0.01 * float(ref["ecp"].sum())
    assert len(drawn) > 1  # drawn afresh, not always the same sentences


def test_mse_distance_and_argmax_fill_run(corpus):
    task, model, crit = build(corpus["bin"], "--ir-distance", "mse", "--ir-fill", "argmax",
                              "--dpp-grad", "forward")
    sample = first_batch(task)
    loss, _, log = crit(model, sample)
    loss.backward()
    assert math.isfinite(loss.item()) and log["ecp"] > 0


def test_batch_without_masked_tokens(corpus):
    task, model, crit = build(corpus["bin"])
    sample = first_batch(task)
    pad = task.source_dictionary.pad()
    original = torch.where(sample["target"].ne(pad), sample["target"], sample["net_input"]["src_tokens"])
    sample["net_input"]["src_tokens"] = original
    sample["target"] = torch.full_like(original, pad)
    loss, sample_size, log = crit(model, sample)
    assert sample_size == 0 and math.isfinite(loss.item())
    assert log["mlm_loss"] == 0 and math.isfinite(log["ecp"].item())


def absorb_layernorm_shift_and_scale(model, seed=0):
    """A per-dimension shift and positive scale of the final LayerNorm, compensated exactly in
    lm_head.dense: the MLM loss cannot see it, the paper's penalties can."""
    generator = torch.Generator().manual_seed(seed)
    layer_norm = model.encoder.sentence_encoder.layers[-1].final_layer_norm
    dense = model.encoder.lm_head.dense
    width = layer_norm.weight.numel()
    scale = torch.rand(width, generator=generator) * 3 + 0.25
    shift = torch.randn(width, generator=generator) * 2
    with torch.no_grad():
        layer_norm.weight.mul_(scale)
        layer_norm.bias.mul_(scale).add_(shift)
        dense.weight.div_(scale)  # column d sees s_d·x_d + c_d: divide by s_d ...
        dense.bias.sub_(dense.weight @ shift)  # ... and subtract what the shift adds


@pytest.mark.parametrize("fill", ["argmax", "sample"])
def test_standardize_is_invariant_to_what_the_lm_head_absorbs(corpus, fill):
    grad = ("--dpp-grad", "none") if fill == "argmax" else ()
    measured = {}
    for normalize in ("none", "standardize"):
        task, model, crit = build(corpus["bin"], "--ir-normalize", normalize, "--ir-fill", fill, *grad)
        sample = first_batch(task, batch_size=8)
        model.eval()  # the same forward twice: no dropout
        for transformed in (False, True):
            if transformed:
                absorb_layernorm_shift_and_scale(model)
            torch.manual_seed(5)  # the same sampled fill
            with torch.no_grad():
                logits = model(**sample["net_input"], masked_tokens=sample["target"].ne(1))[0]
                _, _, log = crit(model, sample)
            measured[normalize, transformed] = logits, log
    for normalize in ("none", "standardize"):
        assert torch.allclose(measured[normalize, True][0], measured[normalize, False][0], atol=1e-5)
    for key in ("ecp", "dpp"):
        plain = [float(measured["none", t][1][key]) for t in (False, True)]
        standardized = [float(measured["standardize", t][1][key]) for t in (False, True)]
        assert abs(plain[1] - plain[0]) > 0.05 * plain[0]  # the paper's penalty moves
        assert standardized[1] == pytest.approx(standardized[0], rel=1e-4)


def test_logged_diagnostics_are_those_of_the_target_distribution(corpus):
    task, model, crit = build(corpus["bin"])
    sample = first_batch(task)
    model.eval()
    with torch.no_grad():
        _, _, log = crit(model, sample)
        original = torch.where(sample["target"].ne(1), sample["target"], sample["net_input"]["src_tokens"])
        states = model(original, features_only=True)[0]
    non_pad = original.ne(1)
    probs = torch.softmax(states.double(), dim=-1)[non_pad]
    entropy = -(probs * probs.log()).sum(-1).sum().item()
    assert float(log["target_entropy"]) == pytest.approx(entropy, rel=1e-4)
    assert float(log["target_top_mass"]) == pytest.approx(probs.max(-1).values.sum().item(), rel=1e-4)
    assert float(log["ir_positions"]) == non_pad.sum().item()


def test_ecp_target_restored_compares_with_the_prediction_filled_sentence(corpus):
    ecp, dpp = {}, {}
    for target in ("original", "restored"):
        task, model, crit = build(corpus["bin"], "--ecp-target", target, "--ir-fill", "argmax", "--dpp-grad", "none")
        sample = first_batch(task)
        model.eval()
        with torch.no_grad():
            _, _, log = crit(model, sample)
        ecp[target], dpp[target] = float(log["ecp"]), float(log["dpp"])
    assert ecp["original"] != pytest.approx(ecp["restored"])
    assert dpp["original"] == pytest.approx(dpp["restored"], rel=1e-6)  # only ECP's target moved


def test_masked_sentence_markers_are_written_back_into_p(corpus):
    from ir_fairseq.ir_math import restore_sentence_markers

    task, _, _ = build(corpus["bin"])
    d = task.source_dictionary
    original = torch.tensor([[d.bos(), 10, 11, d.eos(), d.pad()]])
    masked = torch.tensor([[True, True, False, True, False]])
    filled = torch.tensor([[12, 13, 11, 14, d.pad()]])  # what the fill wrote: never a special
    restored, markers = restore_sentence_markers(filled, original, masked,
                                                 torch.tensor([d.bos(), d.eos()]))
    assert restored.tolist() == [[d.bos(), 13, 11, d.eos(), d.pad()]]
    assert markers.tolist() == [[True, False, False, True, False]]


@pytest.mark.parametrize("flags,message", [
    (["--tpu"], "instance_reg does not support --tpu "),
    (["--ddp-backend", "fully_sharded"], "instance_reg does not support --ddp-backend fully_sharded "),
])
def test_launches_it_cannot_serve_are_refused_before_training(corpus, flags, message):
    with pytest.raises(IRUserError, match=message):
        build(corpus["bin"], *flags)
