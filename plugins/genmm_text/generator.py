"""SeqGAN generators (Yu et al., "SeqGAN: Sequence Generative Adversarial Nets with Policy
Gradient", AAAI 2017).

Sec. 4 / appendix: the generator G_theta is an LSTM language model: token embeddings feed one
recurrent layer whose hidden state is mapped to a softmax over the vocabulary; for the
synthetic experiment (sec. 5) embedding and hidden widths are both 32, the length 20 and the
vocabulary 5,000. Every sequence starts from a fixed start token that is fed but never
emitted. A Transformer alternative uses ``transformers``' GPT-2 (Radford et al. 2019) built
from a small ``GPT2Config`` (or loaded from a local folder).

Sec. 2, eq. 4: the action value of a partial sequence is estimated with ``N`` Monte Carlo
rollouts from a roll-out policy G_beta. :meth:`LSTMGenerator.rollout` runs all ``N`` rollouts
for all prefix lengths 1..T-1 as one batched recurrence: lanes are grouped by prefix length,
the lanes of prefix ``t`` join the recurrence at step ``t`` from the teacher-forced state, so
step ``t`` advances ``t * N * B`` lanes at once and no work is spent on given tokens.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genmm_text.sampling import filter_top_k, sample_categorical, sample_projected

State = Any


class SequenceGenerator(nn.Module):
    """Shared sampling for autoregressive generators with ``start``/``advance`` steps.

    Subclasses define ``forward(tokens) -> logits`` (teacher forcing: the logits at position
    ``i`` predict ``tokens[:, i]`` from the start token and ``tokens[:, :i]``),
    ``start(n, device) -> (logits, state)``, ``advance(tokens, state) -> (logits, state)``.
    """

    vocab_size: int
    max_length: int
    start_token: int

    def start(self, n: int, device: torch.device) -> tuple[Tensor, State]:
        raise NotImplementedError

    def advance(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def shifted(self, tokens: Tensor) -> Tensor:
        """(B, T) targets -> (B, T) inputs: the start token, then the targets but the last."""
        start = torch.full_like(tokens[:, :1], self.start_token)
        return torch.cat([start, tokens[:, :-1]], dim=1)

    def log_probs(self, tokens: Tensor) -> Tensor:
        """Per-token log-likelihoods (B, T) of ``tokens`` under the model."""
        logits = self(tokens).float()  # (B, T, V)
        # rows of (B*T, V): 1.7x faster on CPU than the class axis in the middle of (B, V, T)
        return -nn.functional.cross_entropy(
            logits.flatten(0, 1), tokens.flatten(), reduction="none"
        ).view_as(tokens)  # (B, T)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        length: int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        prefix: Tensor | None = None,
    ) -> Tensor:
        """``n`` sequences (n, length); ``prefix`` (n, P) or (P,) tokens are given, not drawn."""
        length = length or self.max_length
        device = self.device
        logits, state = self.start(n, device)
        tokens = torch.empty(n, length, dtype=torch.long, device=device)
        given = 0
        if prefix is not None:
            prefix = prefix.to(device).long()
            prefix = prefix.expand(n, -1) if prefix.dim() == 1 else prefix
            given = min(prefix.shape[1], length)
            tokens[:, :given] = prefix[:, :given]
        for position in range(length):
            if position < given:
                token = tokens[:, position]
            else:
                scaled = filter_top_k(logits.float() / temperature, top_k)
                token = sample_categorical(scaled, in_place=scaled is not logits)
                tokens[:, position] = token
            if position + 1 < length:
                logits, state = self.advance(token, state)
        return tokens

    @torch.no_grad()
    def rollout(self, tokens: Tensor, rollouts: int) -> Tensor:
        """Completions of every prefix: (B, T) -> (T-1, N, B, T), prefix ``t`` = index t-1.

        The generic path samples each prefix length in turn; subclasses may batch all.
        """
        batch, length = tokens.shape
        out = tokens.new_empty(length - 1, rollouts, batch, length)
        for given in range(1, length):
            prefix = tokens[:, :given].repeat(rollouts, 1)  # (N*B, t)
            completed = self.sample(rollouts * batch, length, prefix=prefix)
            out[given - 1] = completed.view(rollouts, batch, length)
        return out


class LSTMGenerator(SequenceGenerator):
    """The paper's LSTM generator: embedding -> one LSTM layer -> linear -> softmax.

    Parameters start from N(0, ``init_std``^2) as in the authors' code (0.1); the oracle of
    the synthetic experiment is the same network with ``init_std=1.0``. The LSTM keeps a single
    bias per gate (torch's second bias is zero and frozen), as in the paper's recurrent unit.
    """

    def __init__(
        self,
        vocab_size: int = 5000,
        embedding_dim: int = 32,
        hidden_dim: int = 32,
        max_length: int = 20,
        start_token: int = 0,
        init_std: float = 0.1,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_vocabulary(vocab_size, description)
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.start_token = start_token
        self.hidden_dim = hidden_dim
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.normal_(0.0, init_std)
            self.lstm.bias_hh_l0.zero_()
        self.lstm.bias_hh_l0.requires_grad_(False)

    def forward(self, tokens: Tensor) -> Tensor:  # (B, T) -> (B, T, V)
        hidden, _ = self.lstm(self.embedding(self.shifted(tokens)))  # (B, T, H)
        return self.output(hidden)

    def _cell(self, tokens: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """One recurrent step: (R,) tokens, (R, H) h and c -> new (h, c)."""
        h, c = state
        _, (h, c) = self.lstm(self.embedding(tokens).unsqueeze(1), (h[None], c[None]))
        return h[0], c[0]

    def start(self, n: int, device: torch.device) -> tuple[Tensor, State]:
        zeros = torch.zeros(n, self.hidden_dim, device=device)
        start = torch.full((n,), self.start_token, dtype=torch.long, device=device)
        h, c = self._cell(start, (zeros, zeros))
        return self.output(h), (h, c)

    def advance(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = self._cell(tokens, state)
        return self.output(h), (h, c)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        length: int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        prefix: Tensor | None = None,
    ) -> Tensor:
        """As :meth:`SequenceGenerator.sample`; plain draws (temperature 1, no top-k, no
        prefix: negatives and metrics) take the fused projection + sampling path."""
        if temperature != 1.0 or top_k or prefix is not None:
            return super().sample(n, length, temperature, top_k, prefix)
        length = length or self.max_length
        device = self.device
        tokens = torch.empty(n, length, dtype=torch.long, device=device)
        h = torch.zeros(n, self.hidden_dim, device=device)
        c = torch.zeros_like(h)
        token = torch.full((n,), self.start_token, dtype=torch.long, device=device)
        for position in range(length):
            h, c = self._cell(token, (h, c))  # (n, H)
            token = sample_projected(h, self.output.weight, self.output.bias)  # (n,)
            tokens[:, position] = token
        return tokens

    @torch.no_grad()
    def rollout(self, tokens: Tensor, rollouts: int) -> Tensor:
        """All ``N`` rollouts of all prefixes as one batched recurrence (see module doc)."""
        batch, length = tokens.shape
        lanes = rollouts * batch
        # teacher-forced states: state[t] has read the start token and x_1..x_t
        h = torch.zeros(batch, self.hidden_dim, device=tokens.device)
        c = torch.zeros_like(h)
        h, c = self._cell(torch.full_like(tokens[:, 0], self.start_token), (h, c))
        prefix_states = []
        for position in range(length - 1):
            h, c = self._cell(tokens[:, position], (h, c))
            prefix_states.append((h, c))  # has read x_1..x_{position+1}
        out = tokens.new_empty(length - 1, rollouts, batch, length)
        out.copy_(tokens.expand(length - 1, rollouts, batch, length))
        flat = out.view(length - 1, lanes, length)  # (T-1, N*B, T), block t-1 = prefix t
        h_active = h.new_empty(0, self.hidden_dim)
        c_active = h_active
        for position in range(1, length):
            # lanes of prefix length `position` join: N copies of the teacher-forced state
            h_new, c_new = prefix_states[position - 1]
            h_active = torch.cat([h_active, h_new.repeat(rollouts, 1)])  # (position*N*B, H)
            c_active = torch.cat([c_active, c_new.repeat(rollouts, 1)])
            # (position*N*B, H) -> (position*N*B,): logits made and searched in cache-sized rows
            drawn = sample_projected(h_active, self.output.weight, self.output.bias)
            flat[:position, :, position] = drawn.view(position, lanes)
            if position + 1 < length:
                h_active, c_active = self._cell(drawn, (h_active, c_active))
        return out


class GPT2Generator(SequenceGenerator):
    """A GPT-2 decoder (Radford et al. 2019) as G_theta: ``transformers.GPT2LMHeadModel``
    from a small ``GPT2Config``, randomly initialised, or ``from_pretrained(pretrained)`` when
    a local folder is given (nothing is downloaded)."""

    def __init__(
        self,
        vocab_size: int = 5000,
        max_length: int = 20,
        start_token: int = 0,
        n_embd: int = 64,
        n_layer: int = 2,
        n_head: int = 4,
        dropout: float = 0.1,
        pretrained: str | None = None,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        if pretrained is not None:
            self.model = GPT2LMHeadModel.from_pretrained(pretrained, local_files_only=True)
            vocab_size = self.model.config.vocab_size
        else:
            config = GPT2Config(
                vocab_size=vocab_size,
                n_positions=max_length + 1,
                n_embd=n_embd,
                n_layer=n_layer,
                n_head=n_head,
                resid_pdrop=dropout,
                embd_pdrop=dropout,
                attn_pdrop=dropout,
                bos_token_id=start_token,
                eos_token_id=start_token,
            )
            self.model = GPT2LMHeadModel(config)
        check_vocabulary(vocab_size, description)
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.start_token = start_token

    def forward(self, tokens: Tensor) -> Tensor:  # (B, T) -> (B, T, V)
        return self.model(input_ids=self.shifted(tokens)).logits

    def start(self, n: int, device: torch.device) -> tuple[Tensor, State]:
        start = torch.full((n, 1), self.start_token, dtype=torch.long, device=device)
        result = self.model(input_ids=start, use_cache=True)
        return result.logits[:, -1], result.past_key_values

    def advance(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        result = self.model(input_ids=tokens[:, None], past_key_values=state, use_cache=True)
        return result.logits[:, -1], result.past_key_values


def check_vocabulary(vocab_size: int, description: dict[str, Any] | None) -> None:
    """The model's vocabulary must hold the data's, as its description gives it (a trained
    tokenizer may come out smaller than asked, never larger)."""
    wanted = (description or {}).get("vocab_size")
    if wanted is not None and wanted > vocab_size:
        raise ValueError(
            f"vocab_size {vocab_size} is smaller than the data's vocabulary ({wanted} tokens); "
            f"set vocab_size: {wanted} on the models"
        )
