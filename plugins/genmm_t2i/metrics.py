"""Text-to-image metrics on held-out captions.

``t2i.r_precision`` (Xu et al. 2018, sec. 4, "R-precision"): each generated image is ranked
against its true caption and ``candidates - 1`` (99) mismatched captions drawn from the
held-out set, by the cosine of the trained DAMSM's global image feature and sentence feature;
R-precision with R = 1 is the fraction of images whose true caption ranks first. The same
ranking of the real held-out images is reported beside it (``t2i.r_precision_real``: what the
encoders manage on real data, the ceiling of the generator) with chance, 1 / candidates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.metrics import Metric
from genmm_t2i.writers import sample_images

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run


def r_precision(image_features: Tensor, caption_features: Tensor, r: int = 1) -> float:
    """image_features (N, D); caption_features (N, C, D), candidate 0 the true caption ->
    the fraction of images whose true caption is among the ``r`` most similar (cosine). A tie
    with a mismatched caption does not count as a hit."""
    image = F.normalize(image_features.float(), dim=-1)
    captions = F.normalize(caption_features.float(), dim=-1)
    scores = torch.einsum("nd,ncd->nc", image, captions)  # (N, C)
    better = (scores[:, 1:] >= scores[:, :1]).sum(1)  # mismatched at least as close as the truth
    return float((better < r).float().mean())


def candidate_indices(tokens: Tensor, candidates: int, generator: torch.Generator) -> Tensor:
    """For each of N captions: itself, then ``candidates - 1`` others with different text."""
    count = tokens.shape[0]
    rows = []
    for index in range(count):
        different = (tokens != tokens[index]).any(1).nonzero().flatten()
        if len(different) < candidates - 1:
            raise ValueError(
                f"R-precision needs {candidates - 1} mismatched captions; the held-out set has "
                f"{len(different)} different from item {index}"
            )
        chosen = different[torch.randperm(len(different), generator=generator)[: candidates - 1]]
        rows.append(torch.cat([torch.tensor([index]), chosen]))
    return torch.stack(rows)


class RPrecision(Metric):
    """R-precision of generated (and real) held-out images, R = 1 by default."""

    def __init__(self, samples: int = 200, candidates: int = 100, r: int = 1) -> None:
        if candidates < 2 or samples < 1 or r < 1:
            raise ValueError("need samples >= 1, candidates >= 2, r >= 1")
        self.samples, self.candidates, self.r = samples, candidates, r

    def __call__(self, run: Run) -> dict[str, float]:
        held = run.dataset.held_out_set()
        images, tokens, _ = held.fixed_pairs()
        generator = torch.Generator().manual_seed(0)
        pool = candidate_indices(tokens, self.candidates, generator)  # over the whole set
        chosen = torch.randperm(len(tokens), generator=generator)[: self.samples]
        text_encoder, image_encoder = run.models["text_encoder"], run.models["image_encoder"]
        sentences = torch.cat(
            [text_encoder(run.to_device(t))["sentence"] for t in tokens.split(256)]
        )
        fake_features, real_features = [], []
        for part in chosen.split(64):
            text = text_encoder(run.to_device(tokens[part]))
            fake = sample_images(run, len(part), text)
            fake_features.append(image_encoder(fake)[1])
            real_features.append(image_encoder(run.to_device(images[part]))[1])
        candidates = sentences[run.to_device(pool[chosen])]  # (n, C, D)
        return {
            "t2i.r_precision": r_precision(torch.cat(fake_features), candidates, self.r),
            "t2i.r_precision_real": r_precision(torch.cat(real_features), candidates, self.r),
            "t2i.r_precision_chance": min(1.0, self.r / self.candidates),
        }
