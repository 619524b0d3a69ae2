"""The GRPO objective against hand-computed values on a toy batch: group-normalised advantages,
the clipped ratio, the k3 KL term, and how the loss is averaged (chapter 10)."""
import math

import pytest
import torch

from infimed_lib.common import ParameterError
from infimed_lib.rl.objective import aggregate, clipped_surrogate, group_advantages, grpo_loss, kl_k3
from infimed_lib.rl.rollout import answer_mask


def test_advantages_are_normalised_within_each_group():
    # Group 1: rewards 1, 0, 0 -> mean 1/3, sample std sqrt(1/3); group 2 all equal -> no signal.
    advantages = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.5, 0.5, 0.5]), group_size=3, eps=0.0)
    third = math.sqrt(1 / 3)
    expected = [(2 / 3) / third, (-1 / 3) / third, (-1 / 3) / third, 0.0, 0.0, 0.0]
    assert advantages.tolist() == pytest.approx(expected, abs=1e-6)
    assert advantages[:3].sum().item() == pytest.approx(0.0, abs=1e-6)


def test_advantages_ignore_the_reward_scale_and_offset():
    base = group_advantages(torch.tensor([0.0, 1.0, 1.0, 0.0]), group_size=2)
    shifted = group_advantages(torch.tensor([10.0, 30.0, 7.0, 5.0]), group_size=2)
    assert base.tolist() == pytest.approx([-0.7071, 0.7071, 0.7071, -0.7071], abs=1e-4)
    assert shifted.tolist() == pytest.approx(base.tolist(), abs=1e-4)


def test_advantages_refuse_rewards_that_do_not_split_into_groups():
    with pytest.raises(ParameterError, match="group_size"):
        group_advantages(torch.zeros(5), group_size=2)
    with pytest.raises(ParameterError, match="group_size"):
        group_advantages(torch.zeros(4), group_size=1)


def test_clipped_surrogate_by_hand():
    ratios = torch.tensor([[1.5, 0.5, 1.1, 0.5, 1.5]])
    signs = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    # One token per row so that each row has its own advantage.
    logp, old = torch.log(ratios).T, torch.zeros(5, 1)
    surrogate, clipped = clipped_surrogate(logp, old, signs, clip_low=0.2, clip_high=0.2)
    # 1.5*+1 -> capped at 1.2; 0.5*-1 -> -0.8 (the pessimistic side); 1.1 inside the band;
    # 0.5*+1 and 1.5*-1 move against the advantage: never clipped, min keeps them.
    assert surrogate.flatten().tolist() == pytest.approx([1.2, -0.8, 1.1, 0.5, -1.5], abs=1e-6)
    assert clipped.flatten().tolist() == [True, True, False, False, False]


def test_clip_high_can_differ_from_clip_low():
    logp, old = torch.log(torch.tensor([[1.25], [0.75]])), torch.zeros(2, 1)
    surrogate, clipped = clipped_surrogate(logp, old, torch.tensor([1.0, -1.0]), clip_low=0.2, clip_high=0.28)
    assert surrogate.flatten().tolist() == pytest.approx([1.25, -0.8], abs=1e-6)
    assert clipped.flatten().tolist() == [False, True]


def test_clipped_tokens_get_no_gradient():
    logp = torch.log(torch.tensor([[1.5, 1.1]])).requires_grad_()
    loss, stats = grpo_loss(logp, torch.zeros(1, 2), None, torch.tensor([1.0]), torch.ones(1, 2), kl_coef=0.0,
                            clip_low=0.2, clip_high=0.2, mode="token")
    loss.backward()
    # d(-ratio * A / 2)/d logp = -ratio / 2 for the unclipped token; 0 for the clipped one.
    assert logp.grad.flatten().tolist() == pytest.approx([0.0, -1.1 / 2], abs=1e-6)
    assert stats["clipped"] == 1 and stats["tokens"] == 2


def test_k3_by_hand():
    logp, ref = torch.log(torch.tensor([0.5, 0.3])), torch.log(torch.tensor([0.25, 0.3]))
    # exp(d) - d - 1 with d = log(0.25/0.5) = log(0.5): 0.5 + log 2 - 1; equal probabilities give 0.
    assert kl_k3(logp, ref).tolist() == pytest.approx([0.5 + math.log(2) - 1, 0.0], abs=1e-6)
    assert (kl_k3(torch.randn(50), torch.randn(50)) >= 0).all()


def test_kl_term_enters_the_loss_with_its_coefficient():
    logp = torch.log(torch.tensor([[0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.5]]))
    base, _ = grpo_loss(logp, logp, None, torch.tensor([0.0]), torch.ones(1, 2), kl_coef=0.1, clip_low=0.2,
                        clip_high=0.2, mode="sequence")
    with_kl, stats = grpo_loss(logp, logp, ref, torch.tensor([0.0]), torch.ones(1, 2), kl_coef=0.1, clip_low=0.2,
                               clip_high=0.2, mode="sequence")
    kl = 0.5 + math.log(2) - 1
    assert base.item() == pytest.approx(0.0, abs=1e-7)
    assert with_kl.item() == pytest.approx(0.1 * kl / 2, abs=1e-6)  # mean over the row's two tokens
    assert stats["kl_sum"] == pytest.approx(kl, abs=1e-6)


def test_sequence_and_token_averaging_by_hand():
    per_token = torch.tensor([[1.0, 3.0, 9.0], [2.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # sequence: mean(1, 3) = 2 and mean(2) = 2 -> (2 + 2) / 2; token: (1 + 3 + 2) / 3.
    assert aggregate(per_token, mask, "sequence").item() == pytest.approx(2.0)
    assert aggregate(per_token, mask, "token").item() == pytest.approx(2.0)
    per_token[1, 0] = 5.0
    assert aggregate(per_token, mask, "sequence").item() == pytest.approx((2 + 5) / 2)
    assert aggregate(per_token, mask, "token").item() == pytest.approx((1 + 3 + 5) / 3)
    with pytest.raises(ParameterError, match="loss_aggregation"):
        aggregate(per_token, mask, "mean")


@pytest.mark.parametrize("mode", ["sequence", "token"])
def test_splitting_an_update_with_global_denominators_changes_nothing(mode):
    torch.manual_seed(0)
    logp, old, ref = torch.randn(4, 5), torch.randn(4, 5), torch.randn(4, 5)
    advantages, mask = torch.randn(4), (torch.rand(4, 5) > 0.3).long()
    mask[:, 0] = 1
    settings = dict(kl_coef=0.05, clip_low=0.2, clip_high=0.3, mode=mode)
    whole, _ = grpo_loss(logp, old, ref, advantages, mask, **settings)
    halves = [grpo_loss(logp[s], old[s], ref[s], advantages[s], mask[s], num_sequences=4.0,
                        num_tokens=float(mask.sum()), **settings)[0] for s in (slice(0, 1), slice(1, 4))]
    assert sum(h.item() for h in halves) == pytest.approx(whole.item(), abs=1e-6)


def test_answer_mask_keeps_tokens_up_to_the_first_stop():
    tokens = torch.tensor([[5, 7, 2, 0, 9], [5, 6, 7, 8, 9], [2, 0, 0, 0, 0]])
    assert answer_mask(tokens, stops=[0, 2]).long().tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1],
                                                                  [1, 0, 0, 0, 0]]
