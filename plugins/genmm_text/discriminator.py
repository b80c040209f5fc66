"""The SeqGAN discriminator (Yu et al., AAAI 2017, sec. 4 "the discriminative model" and the
appendix, after Kim 2014 and Zhang & LeCun 2015).

Tokens are embedded (width 64); convolutions with window sizes 1-10, 15 and 20 (100, 200, 200,
200, 200, 100, 100, 100, 100, 100, 160 and 160 kernels) each see the whole embedding width,
a ReLU and max-over-time pooling give one feature per kernel (1,720 in all); a highway layer
(Srivastava et al. 2015) and dropout 0.25 precede a linear layer to the two classes
(generated, real). An L2 penalty of 0.2 applies to that output layer, as in the authors' code.

:meth:`CNNDiscriminator.rollout_rewards` scores the ``N`` completions of every prefix
(sec. 2, eq. 4) while reusing the shared prefix: a window that ends inside the prefix of
length ``t`` is the same in every completion and in the original sequence, so its pooled
maximum comes from one pass over the original batch and only the windows reaching past ``t``
are computed for the completions.

Training cost: each convolution is followed by max-over-time pooling, so the gradient of its
output is non-zero at one position per kernel and sequence. :class:`MaxPooledConvolution`
computes the forward as one matrix product over the windows (im2col) and the backward only at
those positions (two weighted gathers, ``embedding_bag``), instead of the dense transposed
convolutions: the same gradients with about a tenth of the backward arithmetic.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


class MaxPooledConvolution(torch.autograd.Function):
    """max over positions of conv1d(x, weight, bias): (B, T, E), (n, E, k), (n,) -> (B, n).

    Forward: the windows (B*P, E*k) (P = T - k + 1) times the kernels, one matrix product, and
    the maximum over positions with its index. Backward: only the arg-max window of each
    sequence and kernel receives gradient, so the weight gradient is a gather of those windows
    weighted by the incoming gradient, and the windows' gradient a gather of the kernels
    weighted the same way (both ``embedding_bag`` sums); the windows' gradient is overlap-added
    back to (B, T, E). Where several positions tie for the maximum their windows are equal
    (identical tokens), so the gradients of the embedding table and of the kernels are the same
    whichever position takes it.
    """

    @staticmethod
    def forward(ctx: Any, embedded: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        batch, length, width = embedded.shape
        kernels, _, size = weight.shape
        positions = length - size + 1
        windows = embedded.unfold(1, size, 1).reshape(batch * positions, width * size)
        pre = torch.addmm(bias, windows, weight.reshape(kernels, -1).t())  # (B*P, n)
        values, where = pre.view(batch, positions, kernels).max(dim=1)  # (B, n)
        ctx.save_for_backward(windows, where, weight)
        ctx.shape = (batch, length, width)
        ctx.mark_non_differentiable(where)
        return values

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        windows, where, weight = ctx.saved_tensors
        batch, length, width = ctx.shape
        kernels, _, size = weight.shape
        positions = length - size + 1
        grad = grad.to(windows.dtype).contiguous()  # (B, n)
        rows = where + torch.arange(batch, device=where.device)[:, None] * positions  # (B, n)
        grad_embedded = grad_weight = grad_bias = None
        if ctx.needs_input_grad[1]:
            # dL/dW[f] = sum_b grad[b, f] * windows[row[b, f]]: one bag of B rows per kernel
            grad_weight = nn.functional.embedding_bag(
                rows.t(), windows, per_sample_weights=grad.t(), mode="sum"
            ).view_as(weight)  # (n, E, k)
            grad_weight = grad_weight.to(weight.dtype)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum(0).to(weight.dtype)
        if ctx.needs_input_grad[0]:
            # dL/dwindows[r] = sum over kernels f whose arg-max row is r of grad[b, f] * W[f]:
            # bags of kernels grouped by row (sorted), empty for rows no kernel picked
            flat_rows = rows.flatten()  # (B*n,)
            order = torch.argsort(flat_rows, stable=True)
            counts = torch.bincount(flat_rows, minlength=batch * positions)
            offsets = counts.cumsum(0) - counts
            kernel_index = torch.arange(kernels, device=rows.device).repeat(batch)[order]
            grad_windows = nn.functional.embedding_bag(
                kernel_index,
                weight.reshape(kernels, -1).to(windows.dtype),
                offsets,
                per_sample_weights=grad.flatten()[order],
                mode="sum",
            )  # (B*P, E*k)
            grad_embedded = torch.ops.aten.unfold_backward(
                grad_windows.view(batch, positions, width, size), [batch, length, width], 1, size, 1
            )  # (B, T, E)
        return grad_embedded, grad_weight, grad_bias


class Highway(nn.Module):
    """y = t * relu(W_H x) + (1 - t) * x with gate t = sigmoid(W_T x + gate_bias)."""

    def __init__(self, width: int, gate_bias: float = 0.0) -> None:
        super().__init__()
        self.transform = nn.Linear(width, width)
        self.gate = nn.Linear(width, width)
        self.gate_bias = gate_bias

    def forward(self, x: Tensor) -> Tensor:  # (B, F) -> (B, F)
        gate = torch.sigmoid(self.gate(x) + self.gate_bias)
        return gate * torch.relu(self.transform(x)) + (1 - gate) * x


class CNNDiscriminator(nn.Module):
    """The paper's CNN text classifier; ``forward`` returns (B, 2) logits (generated, real)."""

    def __init__(
        self,
        vocab_size: int = 5000,
        embedding_dim: int = 64,
        filter_sizes: list[int] | None = None,
        num_filters: list[int] | None = None,
        dropout: float = 0.25,
        l2: float = 0.2,
        max_length: int = 20,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        from genmm_text.generator import check_vocabulary

        check_vocabulary(vocab_size, description)
        filter_sizes = list(filter_sizes or PAPER_FILTER_SIZES)
        num_filters = list(num_filters or PAPER_NUM_FILTERS)
        if len(filter_sizes) != len(num_filters):
            raise ValueError("filter_sizes and num_filters must have the same length")
        kept = [(k, n) for k, n in zip(filter_sizes, num_filters) if k <= max_length]
        self.filter_sizes = [k for k, _ in kept]  # windows longer than the text cannot fit
        self.num_filters = [n for _, n in kept]
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.l2 = l2
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(embedding_dim, n, k) for k, n in zip(self.filter_sizes, self.num_filters)
        )
        features = sum(self.num_filters)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(features, 2)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The authors' initialisation (their ``discriminator.py``): embedding U(-1, 1);
        convolution and output weights truncated N(0, 0.1^2), their biases 0.1; the highway's
        weights and biases Glorot-uniform (TensorFlow's default for ``get_variable``)."""
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
        for layer in [*self.convs, self.output]:
            nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
            layer.bias.fill_(0.1)
        for layer in (self.highway.transform, self.highway.gate):
            nn.init.xavier_uniform_(layer.weight)
            bound = (3.0 / layer.bias.numel()) ** 0.5  # Glorot on a vector: fan in = fan out
            nn.init.uniform_(layer.bias, -bound, bound)

    def pad(self, tokens: Tensor) -> Tensor:
        """Shorter sequences are right-padded with token 0 up to ``max_length``."""
        if tokens.shape[1] >= self.max_length:
            return tokens
        return nn.functional.pad(tokens, (0, self.max_length - tokens.shape[1]))

    def pooled(self, tokens: Tensor) -> Tensor:  # (B, T) -> (B, F)
        """ReLU and max-over-time of every convolution: relu(max_t) = max_t(relu), taken on the
        pooled (B, n) instead of the (B, n, T') activations."""
        embedded = self.embedding(self.pad(tokens))  # (B, T, E)
        features = [
            MaxPooledConvolution.apply(embedded, conv.weight, conv.bias) for conv in self.convs
        ]
        return torch.cat(features, dim=1).relu()  # (B, F)

    def head(self, pooled: Tensor) -> Tensor:  # (B, F) -> (B, 2)
        return self.output(self.dropout(self.highway(pooled)))

    def forward(self, tokens: Tensor) -> Tensor:  # (B, T) -> (B, 2)
        return self.head(self.pooled(tokens))

    def real_probability(self, tokens: Tensor) -> Tensor:  # (B, T) -> (B,)
        return self(tokens).softmax(dim=1)[:, 1]

    def l2_penalty(self) -> Tensor:
        """``l2`` x (||W||^2 + ||b||^2) / 2 of the output layer (tf.nn.l2_loss)."""
        return self.l2 * 0.5 * (self.output.weight.square().sum() + self.output.bias.square().sum())

    def loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-entropy on real (class 1) and generated (class 0) batches + L2; accuracy."""
        logits = self(torch.cat([real, fake]))  # (2B, 2)
        labels = torch.cat(
            [
                torch.ones(len(real), dtype=torch.long, device=real.device),
                torch.zeros(len(fake), dtype=torch.long, device=real.device),
            ]
        )
        loss = nn.functional.cross_entropy(logits, labels) + self.l2_penalty()
        accuracy = (logits.argmax(1) == labels).float().mean()
        return loss, accuracy

    def _windows(self, embedded: Tensor, size: int, first: int) -> Tensor:
        """Pre-activations of the windows of ``size`` starting at ``first``.. (B, W, n)."""
        conv = self.convs[self.filter_sizes.index(size)]
        windows = embedded[:, first:].unfold(1, size, 1)  # (B, W, E, size)
        flat = windows.reshape(windows.shape[0], windows.shape[1], -1)  # (B, W, E*size)
        return torch.matmul(flat, conv.weight.reshape(conv.weight.shape[0], -1).T) + conv.bias

    @torch.no_grad()
    def rollout_rewards(self, tokens: Tensor, completions: Tensor) -> Tensor:
        """Q(prefix t) = mean real-probability of its completions; Q(T) = D(x).

        ``tokens`` (B, T) and ``completions`` (T-1, N, B, T) -> rewards (B, T).
        """
        batch, length = tokens.shape
        prefixes, rollouts = completions.shape[:2]
        if length < self.max_length:
            raise ValueError("rollout rewards need sequences of the discriminator's max_length")
        embedded = self.embedding(tokens)  # (B, T, E)
        # running max of the original's windows: shared[k][:, s] = max over windows < s
        shared = []
        for size in self.filter_sizes:
            activations = self._windows(embedded, size, 0).relu()  # (B, T-size+1, n)
            running = activations.cummax(dim=1).values
            shared.append(torch.cat([torch.zeros_like(running[:, :1]), running], dim=1))
        rewards = tokens.new_zeros(batch, length, dtype=torch.float32)
        for given in range(1, prefixes + 1):
            lanes = completions[given - 1].reshape(rollouts * batch, length)  # (N*B, T)
            lanes_embedded = self.embedding(lanes)  # (N*B, T, E)
            features = []
            for index, size in enumerate(self.filter_sizes):
                # windows starting before `first` end inside the prefix: shared with x
                first = max(0, given - size + 1)
                fresh = self._windows(lanes_embedded, size, first).relu().amax(dim=1)
                if first > 0:
                    fresh = torch.maximum(fresh, shared[index][:, first].repeat(rollouts, 1))
                features.append(fresh)
            probability = self.head(torch.cat(features, dim=1)).softmax(dim=1)[:, 1]
            rewards[:, given - 1] = probability.view(rollouts, batch).mean(0)
        rewards[:, length - 1] = self.real_probability(tokens)
        return rewards
