"""DAMSM, the Deep Attentional Multimodal Similarity Model (Xu et al., "AttnGAN", CVPR 2018,
sec. 3.2, eq. 7-14; the authors' ``pretrain_DAMSM.py``, ``words_loss`` / ``sent_loss`` /
``func_attention`` in taoxugit/AttnGAN).

* :class:`ImageEncoder` maps an image to region features v (256 x N sub-regions) and a global
  feature v̄ (256). The paper takes them from an ImageNet Inception-v3 (Mixed_6e, 17 x 17
  regions; the last pooling); nothing may be downloaded here, so it is a small CNN trained from
  scratch with the text encoder: the image is resized to ``input_size`` (32), two stride-2
  stages (64-128 channels, batch norm, leaky ReLU) give 8 x 8 regions, a 1 x 1 convolution
  maps them to the 256-dimensional common space (the paper's perceptron layer, eq. 6), and two
  more stages (256-512), average pooling and a linear layer give v̄.
* :func:`word_attention` is eq. 8-9: s = eᵀv, normalised over the words (eq. 8,
  s̄_{i,j} = exp(s_{i,j}) / Σ_k exp(s_{k,j}); padding masked), then attention over regions
  α_{i,j} = softmax_j(γ1 s̄_{i,j}) and region contexts c_i = Σ_j α_{i,j} v_j.
* :func:`damsm_loss` is eq. 10-14: R(c_i, e_i) = cosine, R(Q, D) = log(Σ_i exp(γ2 R(c_i, e_i)))
  ^(1/γ2), the posterior of the matching caption among the batch with γ3, both ways, for the
  words (L1ʷ, L2ʷ) and for the sentence and global features (L1ˢ, L2ˢ). γ1 = 4, γ2 = 5,
  γ3 = 10 (the paper's). Like the authors' code (which masks captions of the same class), a
  caption identical to the matching one is not counted as a mismatch.
* :class:`DAMSMTrainer` (``t2i.damsm``) pre-trains both encoders on that loss: one Adam over
  both, lr 0.002, betas (0.5, 0.999) (the authors' ``ENCODER_LR``); they clip the text
  encoder's gradient norm at 0.25 (``clip_grad_norm: 0.25`` in the recipe clips the whole
  role ``damsm``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm.training import Trainer, fetch_batch

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

#: the authors' DAMSM optimiser (cfg.TRAIN.ENCODER_LR = 2e-3)
DAMSM_ADAM = {"name": "adam", "lr": 2e-3, "betas": [0.5, 0.999]}


def _block(width_in: int, width_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(width_in, width_out, 4, 2, 1, bias=False),
        nn.BatchNorm2d(width_out),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(width_out, width_out, 3, 1, 1, bias=False),
        nn.BatchNorm2d(width_out),
        nn.LeakyReLU(0.2, inplace=True),
    )


class ImageEncoder(nn.Module):
    """image (B, 3, S, S) in [-1, 1] -> ``(regions (B, 256, R, R), global (B, 256))``,
    R = input_size / 4."""

    def __init__(
        self,
        feature_dim: int = 256,
        width: int = 32,
        input_size: int = 32,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if input_size % 16:
            raise ValueError(f"input_size must be a multiple of 16, got {input_size}")
        self.input_size, self.feature_dim = input_size, feature_dim
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True))
        self.local = nn.Sequential(_block(width, 2 * width), _block(2 * width, 4 * width))
        self.global_stage = nn.Sequential(
            _block(4 * width, 8 * width), _block(8 * width, 16 * width)
        )  # S/4 -> S/16
        self.emb_features = nn.Conv2d(4 * width, feature_dim, 1, bias=False)  # eq. 6: v = W f
        self.emb_cnn_code = nn.Linear(16 * width, feature_dim)  # v̄ = W̄ f̄
        nn.init.uniform_(self.emb_features.weight, -0.1, 0.1)  # the authors' init_trainable
        nn.init.uniform_(self.emb_cnn_code.weight, -0.1, 0.1)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.shape[-1] != self.input_size:
            images = F.interpolate(
                images, size=(self.input_size,) * 2, mode="bilinear", align_corners=False
            )
        local = self.local(self.stem(images))  # (B, 4w, S/4, S/4)
        pooled = self.global_stage(local).mean((2, 3))  # (B, 16w)
        return self.emb_features(local), self.emb_cnn_code(pooled)


# ====================================================================== attention
def masked_softmax(scores: Tensor, mask: Tensor | None, dim: int) -> Tensor:
    """softmax over ``dim`` with ``mask`` (True = excluded) set to zero weight."""
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=dim)


def word_attention(
    words: Tensor, regions: Tensor, mask: Tensor | None, gamma1: float = 4.0
) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 8-9 for every image with every caption.

    words (C, D, T) of C captions, regions (I, D, N) of I images (N = R x R), mask (C, T) True
    at padding -> (normalised s̄ (I, C, T, N), summing to one over the T words with padding at
    zero; α (I, C, T, N), summing to one over the N regions; contexts c (I, C, T, D))."""
    scores = torch.einsum("idn,cdt->ictn", regions, words)  # s = eᵀv
    word_mask = None if mask is None else mask[None, :, :, None]
    normalised = masked_softmax(scores, word_mask, dim=2)  # eq. 8, over words
    attention = torch.softmax(gamma1 * normalised, dim=3)  # eq. 9, over regions
    contexts = torch.einsum("ictn,idn->ictd", attention, regions)
    return normalised, attention, contexts


def word_relevance(
    words: Tensor,
    regions: Tensor,
    mask: Tensor | None,
    gamma1: float = 4.0,
    gamma2: float = 5.0,
) -> Tensor:
    """R(Q_i, D_c) of eq. 10 (as the authors' code: log Σ exp(γ2 R), without the 1/γ2 root):
    (I, C)."""
    _, _, contexts = word_attention(words, regions, mask, gamma1)
    cosine = F.cosine_similarity(contexts, words.transpose(1, 2)[None], dim=-1, eps=1e-8)
    scores = gamma2 * cosine  # (I, C, T)
    if mask is not None:
        scores = scores.masked_fill(mask[None], float("-inf"))
    return torch.logsumexp(scores, dim=2)


def _matching_loss(similarity: Tensor, same: Tensor | None, gamma3: float) -> tuple[Tensor, Tensor]:
    """Eq. 11-13 both ways on an (images x captions) similarity; ``same`` (B, B) marks
    off-diagonal pairs with the same caption, which are not counted as mismatches."""
    if same is not None:
        similarity = similarity.masked_fill(same, float("-inf"))
    labels = torch.arange(similarity.shape[0], device=similarity.device)
    logits = gamma3 * similarity
    return F.cross_entropy(logits, labels), F.cross_entropy(logits.t(), labels)


def same_captions(tokens: Tensor) -> Tensor:
    """(B, B) True where captions i != j are identical (token for token)."""
    same = (tokens[:, None, :] == tokens[None, :, :]).all(-1)
    return same & ~torch.eye(len(tokens), dtype=torch.bool, device=tokens.device)


def damsm_loss(
    text: dict[str, Tensor],
    regions: Tensor,
    global_features: Tensor,
    tokens: Tensor | None = None,
    gamma1: float = 4.0,
    gamma2: float = 5.0,
    gamma3: float = 10.0,
) -> dict[str, Tensor]:
    """L_DAMSM = L1ʷ + L2ʷ + L1ˢ + L2ˢ (eq. 14) of a batch of matching (image, caption) pairs.
    ``regions`` (B, D, R, R), ``global_features`` (B, D), ``text`` the text encoder's output."""
    same = same_captions(tokens) if tokens is not None else None
    relevance = word_relevance(text["words"], regions.flatten(2), text["mask"], gamma1, gamma2)
    w1, w2 = _matching_loss(relevance, same, gamma3)
    sentence = F.normalize(text["sentence"], dim=1, eps=1e-8)
    cosine = F.normalize(global_features, dim=1, eps=1e-8) @ sentence.t()  # (images, captions)
    s1, s2 = _matching_loss(cosine, same, gamma3)
    return {"words": w1 + w2, "sentence": s1 + s2, "total": w1 + w2 + s1 + s2}


# ====================================================================== the trainer
class DAMSMTrainer(Trainer):
    """``t2i.damsm``: pre-train the text and image encoders on the DAMSM loss (sec. 3.2).
    Both are one optimised role, ``damsm`` (the authors' single Adam over both)."""

    def __init__(
        self,
        text_encoder: str = "text_encoder",
        image_encoder: str = "image_encoder",
        gamma1: float = 4.0,
        gamma2: float = 5.0,
        gamma3: float = 10.0,
    ) -> None:
        self.text_role, self.image_role = text_encoder, image_encoder
        self.gammas = (gamma1, gamma2, gamma3)
        self.updates = 0

    def setup(self, run: TrainerRun) -> None:
        self.text_encoder, self.image_encoder = (
            run.model(self.text_role),
            run.model(self.image_role),
        )
        for model in (self.text_encoder, self.image_encoder):
            model.requires_grad_(True).train()
        parameters = [*self.text_encoder.parameters(), *self.image_encoder.parameters()]
        run.add_optimizer("damsm", default=DAMSM_ADAM, parameters=parameters)

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        logs: dict[str, Any] = {}

        def compute() -> Tensor:
            images, condition = fetch_batch(run)
            tokens = condition["tokens"]
            regions, global_features = self.image_encoder(images)
            losses = damsm_loss(
                self.text_encoder(tokens), regions, global_features, tokens, *self.gammas
            )
            logs["damsm_words"], logs["damsm_sentence"] = (
                losses["words"].detach(),
                losses["sentence"].detach(),
            )
            return losses["total"]

        logs["damsm_loss"] = run.update("damsm", compute)
        self.updates += 1
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state.get("updates", 0))


def chance_loss(batch_size: int) -> float:
    """The DAMSM loss of an untrained model that ranks uniformly: 4 log B."""
    return 4 * math.log(batch_size)
