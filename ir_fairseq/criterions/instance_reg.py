"""``instance_reg``: masked-LM cross-entropy plus the two Instance Regularization penalties.

(Over 300 lines on purpose: the whole training step, its options and its reduction read top to
bottom in one file; the math it calls is in ``ir_fairseq/ir_math.py``.)

    loss = L_DAE + ecp_weight · L_ECP + dpp_weight · L_DPP            (paper Eq. 4)

One training step, top to bottom (``forward``):
1. The ordinary masked-LM pass on W' through the (possibly DDP-wrapped) model: logits at the
   masked positions D, and H, the input of the LM head, captured on the way. This is the only
   gradient-carrying forward of the wrapped model, so DDP's one-forward-per-backward rule
   holds.
2. W and P are built on the device: W from the sample (``restore_original``), P by writing the
   predictions (argmax, or a sample) at D (``fill_predictions``); ``<s>``/``</s>`` that the
   masking hit are written back (``restore_sentence_markers``).
3. Ĥ = states(W) and H̃ = states(P) from the unwrapped model in ``torch.inference_mode`` (they
   never touch DDP's reducer), without the LM head, and by default without dropout
   (``--ir-target-dropout``).
4. One log-softmax of Ĥ over the hidden dimension (after ``--ir-normalize``) serves ECP, DPP
   and the diagnostics. ECP = D(H, Ĥ) (``--ecp-target restored``: D(H, H̃), the released
   script's): its gradient reaches the model through H. Ĥ is a target: no gradient.
   DPP = D(H̃, Ĥ), whose gradient path is ``--dpp-grad``:
     score_function (default): DPP depends on the predictions only through the discrete
       tokens written into P, so its gradient to the predictor is estimated with the score
       function (REINFORCE) of the sampled fill, with a leave-one-out baseline
       (``ir_math.score_function_surrogate``): the sentence-level agreement of the
       restoration trains the MLM prediction distribution, as the paper describes DPP.
       Flows through the ordinary MLM pass: no extra backward, no extra activations.
       Needs ``--ir-fill sample`` (the default). ``--dpp-baseline argmax`` replaces the
       baseline by each sentence's DPP with its argmax fill (one more no-grad pass).
     forward: H̃ from a gradient-carrying forward of P (train mode) through the unwrapped
       model, P held fixed: the exact gradient of D(H̃, Ĥ) with respect to the encoder,
       at the price of the P pass's activations and backward (about one more MLM step).
     none: no gradient at all, as the authors' released script (which computes the KL
       between two no-grad tensors): DPP is only logged. For comparison only.
   A straight-through alternative (H̃'s gradient applied to H) was tried and rejected
   (README, "The method as implemented", says what it did).

Normalisation (fairseq's sum + sample_size contract): ``sample_size`` is the number of
masked tokens m, as in fairseq's ``masked_lm``. The penalties are sums over the n non-pad
positions, scaled by m / n, so the trainer's division by m gives
    mean CE over masked tokens + weight × mean distance over non-pad positions
exactly for one batch. Across ``--update-freq`` steps and workers fairseq divides everything
by the total m, so each batch's mean distance is weighted by its share of masked tokens
(equal to the global mean when the masking rate is the same, which it is in expectation).
Logged ``ecp``/``dpp`` are exact means over all non-pad positions of all batches (unbiased
estimates when ``--ir-instance-fraction`` < 1). ``target_entropy`` and ``target_top_mass`` are
the mean entropy (nats) and largest probability of the hidden distribution of Ĥ the penalties
compare (after ``--ir-normalize``): near 0 nats, or a top mass near 1, the penalties can no
longer tell a corrupted sentence from its original.
"""
import math
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import modules, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.logging import metrics
from omegaconf import II
from torch import nn

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.ir_math import (
    DISTANCES,
    FILL_MODES,
    NORMALIZATIONS,
    distribution_diagnostics,
    fill_predictions,
    hidden_log_probs,
    per_sentence_sum,
    prediction_log_probs,
    restore_original,
    restore_sentence_markers,
    score_function_surrogate,
    sentence_penalties,
    standardize_stats,
)

DPP_GRADIENT_PATHS = ("score_function", "forward", "none")
ECP_TARGETS = ("original", "restored")
DPP_BASELINES = ("leave_one_out", "argmax")


@dataclass
class InstanceRegConfig(FairseqDataclass):
    ecp_weight: float = field(
        default=1.0,
        metadata={"help": "weight of the ennoising corruption penalty D(H, Ĥ) (paper Eq. 2)"},
    )
    dpp_weight: float = field(
        default=1.0,
        metadata={"help": "weight of the denoising prediction penalty D(H̃, Ĥ) (paper Eq. 3)"},
    )
    ir_distance: ChoiceEnum(DISTANCES) = field(
        default="kl",
        metadata={"help": "distance between per-position hidden-state distributions: "
                  "kl (paper) or mse (paper Table 5)"},
    )
    ecp_target: ChoiceEnum(ECP_TARGETS) = field(
        default="original",
        metadata={"help": "what ECP compares H with: original (paper Eq. 2: Ĥ, the states of W) "
                  "or restored (the authors' released script: H̃, the states of P)"},
    )
    ir_normalize: ChoiceEnum(NORMALIZATIONS) = field(
        default="none",
        metadata={"help": "none (paper): softmax of the raw states; standardize: subtract from H, "
                  "Ĥ and H̃ the per-dimension mean of Ĥ over the batch's non-pad positions and "
                  "divide by its std (no gradient), so the penalties cannot fall by a shift or "
                  "scale the LM head absorbs"},
    )
    ir_fill: ChoiceEnum(FILL_MODES) = field(
        default="sample",
        metadata={"help": "how predictions are written into P at the masked positions: "
                  "sample from the model's distribution, or its argmax"},
    )
    dpp_grad: ChoiceEnum(DPP_GRADIENT_PATHS) = field(
        default="score_function",
        metadata={"help": "gradient path of DPP: score_function (REINFORCE through the MLM "
                  "predictions, no extra backward), forward (gradient-carrying pass of P), "
                  "none (released script: DPP is logged but does not train)"},
    )
    dpp_baseline: ChoiceEnum(DPP_BASELINES) = field(
        default="leave_one_out",
        metadata={"help": "baseline of the score-function DPP gradient: leave_one_out (the mean "
                  "reward of the batch's other sentences) or argmax (each sentence's own DPP "
                  "with its argmax fill: one more no-grad pass, lower variance)"},
    )
    ir_target_dropout: bool = field(
        default=False,
        metadata={"help": "run the no-grad passes of W and P with dropout; off by default, "
                  "so Ĥ is a deterministic target and H̃ = Ĥ when every prediction is right"},
    )
    ir_instance_fraction: float = field(
        default=1.0,
        metadata={"help": "compute the penalties on this random fraction of each batch's "
                  "sentences, reweighted to stay unbiased (a cheaper estimate; 1 = exact)"},
    )
    # read (not set) from fairseq's options: launches the criterion cannot serve correctly
    tpu: bool = II("common.tpu")
    ddp_backend: str = II("distributed_training.ddp_backend")


def check_config(cfg: InstanceRegConfig) -> None:
    for name in ("ecp_weight", "dpp_weight"):
        value = getattr(cfg, name)
        if not math.isfinite(value) or value < 0:
            raise IRUserError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
    if str(cfg.ir_distance) not in DISTANCES:
        raise IRUserError(f"unknown --ir-distance {cfg.ir_distance!r}; choose from {DISTANCES}")
    if str(cfg.ecp_target) not in ECP_TARGETS:
        raise IRUserError(f"unknown --ecp-target {cfg.ecp_target!r}; choose from {ECP_TARGETS}")
    if str(cfg.ir_normalize) not in NORMALIZATIONS:
        raise IRUserError(f"unknown --ir-normalize {cfg.ir_normalize!r}; choose from {NORMALIZATIONS}")
    if str(cfg.ir_fill) not in FILL_MODES:
        raise IRUserError(f"unknown --ir-fill {cfg.ir_fill!r}; choose from {FILL_MODES}")
    if str(cfg.dpp_grad) not in DPP_GRADIENT_PATHS:
        raise IRUserError(f"unknown --dpp-grad {cfg.dpp_grad!r}; choose from {DPP_GRADIENT_PATHS}")
    if str(cfg.dpp_baseline) not in DPP_BASELINES:
        raise IRUserError(f"unknown --dpp-baseline {cfg.dpp_baseline!r}; choose from {DPP_BASELINES}")
    if str(cfg.dpp_baseline) != "leave_one_out" and str(cfg.dpp_grad) != "score_function":
        raise IRUserError(f"--dpp-baseline {cfg.dpp_baseline} only applies to --dpp-grad score_function")
    if str(cfg.dpp_grad) == "score_function" and str(cfg.ir_fill) != "sample":
        raise IRUserError("--dpp-grad score_function needs --ir-fill sample (an argmax fill is "
                          "deterministic, so it has no score function)")
    if cfg.tpu is True:
        # XLA's fixed shapes project every position, and the fill reads the masked rows only
        raise IRUserError("instance_reg does not support --tpu (the fill would read the wrong rows of the "
                          "predictions); train on GPUs or the CPU")
    if str(cfg.ddp_backend) == "fully_sharded":
        raise IRUserError("instance_reg does not support --ddp-backend fully_sharded (its extra passes run the "
                          "encoder outside the wrapper, on sharded weights); use pytorch_ddp, c10d or legacy_ddp")
    fraction = cfg.ir_instance_fraction
    if not (math.isfinite(fraction) and 0 < fraction <= 1):
        raise IRUserError(f"--ir-instance-fraction must be in (0, 1], got {fraction}")


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside fairseq's distributed wrappers (ModuleProxyWrapper, DDP, ...)."""
    while isinstance(getattr(model, "module", None), nn.Module):
        model = model.module
    return model


class LMHeadInputCapture:
    """Keeps the input of ``encoder.lm_head`` during one forward: the last-layer states H.

    Reading H where the LM head reads it is exact for post-LN and pre-LN encoders alike
    (fairseq's ``inner_states`` stop before a pre-LN encoder's final LayerNorm).
    """

    def __init__(self, model: nn.Module):
        encoder = getattr(unwrap_model(model), "encoder", None)
        self.lm_head = getattr(encoder, "lm_head", None)
        if self.lm_head is None:
            raise IRUserError("instance_reg needs a RoBERTa-style model with encoder.lm_head "
                              "(e.g. --arch roberta_base)")
        self.states = None

    def _keep(self, module, args):
        self.states = args[0]

    def __enter__(self):
        self._handle = self.lm_head.register_forward_pre_hook(self._keep)
        return self

    def __exit__(self, *exc):
        self._handle.remove()


@register_criterion("instance_reg", dataclass=InstanceRegConfig)
class InstanceRegularizationLoss(FairseqCriterion):
    def __init__(self, cfg: InstanceRegConfig, task):
        super().__init__(task)
        check_config(cfg)
        self.cfg = cfg
        self.ecp_weight = float(cfg.ecp_weight)
        self.dpp_weight = float(cfg.dpp_weight)
        self.distance = str(cfg.ir_distance)
        self.fill = str(cfg.ir_fill)
        self.dpp_grad = str(cfg.dpp_grad)
        self.argmax_baseline = str(cfg.dpp_baseline) == "argmax"
        self.standardize = str(cfg.ir_normalize) == "standardize"
        self.ecp_against_restored = str(cfg.ecp_target) == "restored"
        self.ir_enabled = self.ecp_weight > 0 or self.dpp_weight > 0
        dictionary = task.source_dictionary
        forbidden = list(range(dictionary.nspecial))  # <s>, <pad>, </s>, <unk>
        forbidden += [index for index, symbol in enumerate(dictionary.symbols)
                      if symbol == "<mask>" or symbol.startswith("madeupword")]
        self.register_buffer("fill_forbidden_ids", torch.tensor(forbidden), persistent=False)
        markers = torch.tensor([dictionary.bos(), dictionary.eos()])
        self.register_buffer("sentence_marker_ids", markers, persistent=False)
        # running mean of the per-position DPP reward: the score-function baseline of a
        # micro-batch of one sentence (small per-GPU batches at scale), per worker
        self.register_buffer("dpp_reward_mean", torch.zeros(()), persistent=False)
        self.dpp_rewards_seen = 0

    def forward(self, model, sample, reduce=True):
        masked = sample["target"].ne(self.padding_idx)  # D
        sample_size = masked.int().sum()

        projected = self._projected(masked)
        capture = LMHeadInputCapture(model) if self.ir_enabled else nullcontext()
        with capture:
            logits = model(**sample["net_input"], masked_tokens=projected)[0]
        targets = model.get_targets(sample, [logits])
        if projected is not None:
            targets = targets[projected]
        if self.ir_enabled:
            # one log-softmax over the vocabulary, shared by the CE, the fill and DPP's gradient
            log_probs = F.log_softmax(logits, dim=-1, dtype=torch.float32)
            mlm_loss = F.nll_loss(log_probs.view(-1, log_probs.size(-1)), targets.view(-1),
                                  reduction="sum", ignore_index=self.padding_idx)
        else:  # exactly fairseq's masked_lm
            mlm_loss = modules.cross_entropy(
                logits.view(-1, logits.size(-1)),
                targets.view(-1),
                reduction="sum",
                ignore_index=self.padding_idx,
            )
        mlm_correct = (logits.argmax(-1).eq(targets) & targets.ne(self.padding_idx)).sum()

        loss = mlm_loss
        zero = torch.zeros((), device=mlm_loss.device)
        penalties = {"ecp": zero, "dpp": zero, "ir_positions": zero, "target_entropy": zero,
                     "target_top_mass": zero}
        if self.ir_enabled:
            penalties = self.instance_penalties(model, sample, masked, capture.states, log_probs)
            ecp, dpp, positions = penalties["ecp"], penalties["dpp"], penalties["ir_positions"]
            penalty_per_position = (self.ecp_weight * ecp + self.dpp_weight * dpp) / positions.clamp(min=1)
            loss = loss + penalty_per_position * sample_size

        logging_output = {
            "loss": loss.data,
            "mlm_loss": mlm_loss.data,
            **{key: value.data for key, value in penalties.items()},
            "mlm_correct": mlm_correct.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    def _projected(self, masked):
        """Positions the LM head projects: D, as in fairseq's masked_lm criterion, with its
        rule for a batch without any masked token (project every position)."""
        if masked.device == torch.device("cpu"):
            return masked if masked.any() else None
        return torch.where(masked.any(), masked, masked.new([True]))

    def _update_reward_mean(self, sentence_penalty, sentence_positions, decay=0.9):
        batch_mean = (sentence_penalty / sentence_positions.clamp(min=1)).mean().float()
        if self.dpp_rewards_seen:
            batch_mean = decay * self.dpp_reward_mean + (1 - decay) * batch_mean
        self.dpp_reward_mean.copy_(batch_mean)
        self.dpp_rewards_seen += 1

    def instance_penalties(self, model, sample, masked, masked_states, masked_log_probs):
        """Sums over the non-pad positions of ECP, DPP and the diagnostics of Ĥ's hidden
        distribution (entropy, top mass), and the number of those positions."""
        src_tokens = sample["net_input"]["src_tokens"]
        original = restore_original(src_tokens, sample["target"], self.padding_idx)  # W
        restored, predicted = fill_predictions(  # P
            src_tokens, masked, masked_log_probs, self.fill_forbidden_ids, self.fill
        )
        restored, markers = restore_sentence_markers(restored, original, masked, self.sentence_marker_ids)
        non_pad = src_tokens.ne(self.padding_idx)
        positions = non_pad.sum()
        fill_log_prob = argmax_restored = None
        if self.dpp_grad == "score_function" and torch.is_grad_enabled():
            log_probs = prediction_log_probs(masked_log_probs, predicted, self.fill_forbidden_ids)
            fill_log_prob = per_sentence_sum(masked, log_probs, drop=markers)
            if self.argmax_baseline:
                argmax_restored, _ = fill_predictions(
                    src_tokens, masked, masked_log_probs, self.fill_forbidden_ids, "argmax")
                argmax_restored, _ = restore_sentence_markers(argmax_restored, original, masked,
                                                              self.sentence_marker_ids)

        scale = 1.0
        if self.cfg.ir_instance_fraction < 1.0:
            batch = src_tokens.size(0)
            keep = max(1, round(self.cfg.ir_instance_fraction * batch))
            rows = torch.randperm(batch, device=src_tokens.device)[:keep]
            scale = batch / keep  # E[scale * sum over kept rows] = sum over all rows
            original, restored, non_pad = original[rows], restored[rows], non_pad[rows]
            masked_states = masked_states[rows]
            if fill_log_prob is not None:
                fill_log_prob = fill_log_prob[rows]
            if argmax_restored is not None:
                argmax_restored = argmax_restored[rows]

        encoder = unwrap_model(model)
        target_mode = nullcontext() if self.cfg.ir_target_dropout else utils.model_eval(encoder)
        with torch.inference_mode(), target_mode:
            target_states = encoder(original, features_only=True)[0]  # Ĥ
            if self.dpp_grad != "forward":
                restored_states = encoder(restored, features_only=True)[0]  # H̃
            if argmax_restored is not None:
                argmax_states = encoder(argmax_restored, features_only=True)[0]
        if self.dpp_grad == "forward":
            restored_states = encoder(restored, features_only=True)[0]

        # one log-softmax of Ĥ per step, shared by ECP, DPP and the diagnostics
        standardizer = standardize_stats(target_states, non_pad) if self.standardize else None
        target_log_probs = hidden_log_probs(target_states, non_pad, standardizer)
        ecp_target = target_log_probs
        if self.ecp_against_restored:  # the released script's first term: H against H̃
            ecp_target = hidden_log_probs(restored_states.detach(), non_pad, standardizer)
        ecp = sentence_penalties(ecp_target, masked_states, non_pad, self.distance, standardizer).sum()
        dpp_per_sentence = sentence_penalties(target_log_probs, restored_states, non_pad, self.distance,
                                              standardizer)
        dpp = dpp_per_sentence.sum()
        if fill_log_prob is not None:
            baseline = None
            if argmax_restored is not None:
                baseline = sentence_penalties(target_log_probs, argmax_states, non_pad, self.distance,
                                              standardizer)
            previous = self.dpp_reward_mean if self.dpp_rewards_seen else None
            dpp = dpp + score_function_surrogate(
                dpp_per_sentence.detach(), non_pad.sum(dim=-1), fill_log_prob, baseline, previous
            )
            self._update_reward_mean(dpp_per_sentence.detach(), non_pad.sum(dim=-1))
        entropy, top_mass = distribution_diagnostics(target_log_probs.detach(), non_pad)
        return {"ecp": ecp * scale, "dpp": dpp * scale, "ir_positions": positions,
                "target_entropy": entropy * scale, "target_top_mass": top_mass * scale}

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        sample_size = max(total("sample_size"), 1)
        positions = total("ir_positions")
        metrics.log_scalar("loss", total("loss") / sample_size / math.log(2), sample_size, round=3)
        metrics.log_scalar(
            "mlm_loss", total("mlm_loss") / sample_size / math.log(2), sample_size, round=3
        )
        metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["mlm_loss"].avg))
        metrics.log_scalar("mlm_acc", 100.0 * total("mlm_correct") / sample_size, sample_size, round=2)
        if positions > 0:
            metrics.log_scalar("ecp", total("ecp") / positions, positions, round=4)
            metrics.log_scalar("dpp", total("dpp") / positions, positions, round=4)
            metrics.log_scalar("target_entropy", total("target_entropy") / positions, positions, round=4)
            metrics.log_scalar("target_top_mass", total("target_top_mass") / positions, positions, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
