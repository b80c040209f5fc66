"""The discriminator's max-pooled convolutions compute what the plain ones compute: the same
logits and the same gradients of every parameter as conv1d -> ReLU -> max over time (the code
before :class:`MaxPooledConvolution`), in float64, with tied windows (repeated tokens) and
sequences shorter than the discriminator's length."""

from __future__ import annotations

import pytest
import torch

from genmm_text.discriminator import CNNDiscriminator, MaxPooledConvolution


class PlainConvolutions(CNNDiscriminator):
    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(self.pad(tokens)).transpose(1, 2)  # (B, E, T)
        return torch.cat([conv(embedded).relu().amax(dim=2) for conv in self.convs], dim=1)


def pair(**sizes) -> tuple[CNNDiscriminator, CNNDiscriminator]:
    torch.manual_seed(0)
    fast = CNNDiscriminator(**sizes).double().eval()  # eval: no dropout, the same function
    plain = PlainConvolutions(**sizes).double().eval()
    plain.load_state_dict(fast.state_dict())
    return fast, plain


@pytest.mark.parametrize("length", [20, 12])
def test_logits_and_every_gradient_equal_the_plain_convolutions(length):
    fast, plain = pair(vocab_size=300, max_length=20)
    generator = torch.Generator().manual_seed(1)
    real = torch.randint(0, 300, (16, length), generator=generator)
    fake = torch.randint(0, 300, (16, length), generator=generator)
    fake[:4, 2:9] = 7  # runs of one token: tied windows for every width up to 7
    fake[4:6] = 3  # whole sequences of one token
    losses = []
    for model in (fast, plain):
        model.zero_grad(set_to_none=True)
        loss, _ = model.loss(real, fake)
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(fast(real), plain(real), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-10, atol=1e-12)
    for (name, a), b in zip(fast.named_parameters(), plain.parameters()):
        assert a.grad is not None, name
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-12, msg=name)


def test_the_function_alone_matches_conv1d_max_in_float32():
    torch.manual_seed(2)
    embedded = torch.randn(8, 20, 16, requires_grad=True)
    weight = torch.randn(12, 16, 5, requires_grad=True)
    bias = torch.randn(12, requires_grad=True)
    upstream = torch.randn(8, 12)
    fast = MaxPooledConvolution.apply(embedded, weight, bias)
    grads_fast = torch.autograd.grad((fast * upstream).sum(), (embedded, weight, bias))
    plain = torch.nn.functional.conv1d(embedded.transpose(1, 2), weight, bias).amax(dim=2)
    grads_plain = torch.autograd.grad((plain * upstream).sum(), (embedded, weight, bias))
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads_fast, grads_plain):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_rollout_rewards_still_agree_with_the_full_forward():
    fast, _ = pair(vocab_size=50, max_length=8, filter_sizes=[1, 2, 3], num_filters=[4, 4, 4])
    tokens = torch.randint(0, 50, (3, 8))
    completions = torch.randint(0, 50, (7, 2, 3, 8))
    completions[..., :1] = tokens[:, :1]
    for given in range(1, 8):  # each completion keeps the prefix it completes
        completions[given - 1, :, :, :given] = tokens[:, :given]
    rewards = fast.rollout_rewards(tokens, completions)
    with torch.no_grad():
        for given in range(1, 8):
            lanes = completions[given - 1].reshape(-1, 8)
            expected = fast.real_probability(lanes).view(2, 3).mean(0)
            torch.testing.assert_close(
                rewards[:, given - 1], expected.float(), rtol=1e-5, atol=1e-6
            )
