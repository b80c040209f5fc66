"""``image.stylegan2``: the StyleGAN2 training step (Karras et al. 2020, sec. 3 and appendix B).

It is :class:`genmm.training.GANTrainer` (one D update, one G update a step, the recipe's
losses by role) with StyleGAN2's way of making fakes and its generator EMA:

* fakes: ws from the mapping network with style mixing of probability ``style_mixing`` (0.9;
  StyleGAN sec. 3.1: one crossover point, later layers take a second latent's w), ``w_avg``
  tracked on the fakes G learns from, then the synthesis network;
* D: the adversarial loss (``losses.adversarial``, the paper's ``core.nonsaturating``
  logistic loss) and R1 (Mescheder et al. 2018) as ``core.r1`` with ``every: 16``: lazy, its
  own optimiser step every 16 D updates, scaled by 16 (sec. 3.1, "lazy regularization");
* G: the adversarial loss and path-length regularisation (sec. 3.2) as ``image.path_length``
  (weight 2, ``every: 4``, on a half-size batch), lazy in the same way; this trainer gives it
  its style mixing and saves its running mean ``pl_mean`` with the run;
* the core corrects each lazily regularised network's Adam for its interval k: lr * c, betas
  ** c, c = k / (k + 1) (appendix B; ``lazy_adjust: false`` turns it off);
* with ``augment: ROLE`` (StyleGAN2-ADA, Karras et al. 2020b) every image D sees, in both
  updates and in R1, first goes through that model (``image.ada``: the ``bgc`` pipeline with
  its strength p adapted from the sign of D's outputs on reals), as the core's ``GANTrainer``;
* the generator's EMA has a half-life of ``ema_kimg`` thousand images, ramped up to
  ``ema_rampup`` times the images seen (stylegan2-ada-pytorch); this trainer sets the decay
  each step and the core updates the copy after it.

Adam with betas (0, 0.99), lr 0.0025 and eps 1e-8 for both networks by default (the recipe's
``optimizers`` keys update them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm.losses import Context
from genmm.training.gan import GANTrainer
from genmm_image.stylegan2.losses import PathLengthPenalty, mixed_styles

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

STYLEGAN2_OPTIMIZER = {"name": "adam", "lr": 0.0025, "betas": [0.0, 0.99], "eps": 1e-8}


class StyleGAN2Trainer(GANTrainer):
    """Alternating D/G steps with style mixing, w_avg tracking and a half-life EMA; R1 and path
    length come from the recipe's losses (lazy through ``every``)."""

    fresh_fakes = True  # G's step draws its own latents, as the official training phases

    default_optimizers = {"generator": STYLEGAN2_OPTIMIZER, "discriminator": STYLEGAN2_OPTIMIZER}
    registered_name = "image.stylegan2"

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        style_mixing: float = 0.9,
        ema_kimg: float = 10.0,
        ema_rampup: float | None = None,
        lazy_adjust: bool = True,
        augment: str | None = None,
    ) -> None:
        super().__init__(
            generator,
            discriminator,
            adversarial,
            losses=losses,
            lazy_adjust=lazy_adjust,
            augment=augment,
        )
        if not 0.0 <= style_mixing <= 1.0:
            raise ValueError(f"style_mixing is a probability in [0, 1], got {style_mixing}")
        if ema_kimg <= 0:
            raise ValueError(f"ema_kimg must be > 0, got {ema_kimg}")
        self.style_mixing = style_mixing
        self.ema_kimg, self.ema_rampup = ema_kimg, ema_rampup
        self.images_seen = 0
        self.path_length: PathLengthPenalty | None = None
        self._counted_step, self._seen_before, self._this_step = -1, 0, 0

    # ------------------------------------------------------------------ setup
    def setup(self, run: TrainerRun) -> None:
        super().setup(run)  # G, D, the recipe's losses, optimisers with the lazy correction
        if not all(
            callable(getattr(self.G, name, None)) for name in ("styles", "mix", "synthesis")
        ):
            raise RecipeError(
                "image.stylegan2 needs a generator with styles(), mix() and synthesis() "
                "(image.stylegan2_generator)",
                file=run.recipe_file,
                key=f"models.{self.generator_role}",
            )
        run.add_ema(self.generator_role, 0.999)  # the decay is set each step (ema_beta)
        terms = [t for _, t in self.g_terms + self.g_lazy if isinstance(t, PathLengthPenalty)]
        self.path_length = terms[0] if terms else None
        for term in terms:
            term.style_mixing = self.style_mixing

    # ------------------------------------------------------------------ hooks
    def make_fake(self, run: TrainerRun, latent: Any, condition: Any) -> Tensor:
        """Mixed-style fakes; the ones G learns from (made with gradients) also move ``w_avg``
        and count towards the images seen and the EMA's decay."""
        learning = torch.is_grad_enabled()
        ws = mixed_styles(self.G, latent, self.style_mixing, update_w_avg=learning)
        if learning:
            self.count_images(run, latent.shape[0])
        return self.G.synthesis(ws)

    def extra_generator_loss(self, context: Context, logs: dict[str, Any]) -> None:
        if self.path_length is not None:  # the running length at the start of the step
            logs["pl_mean"] = self.path_length.pl_mean.detach().clone()
        return None

    # ------------------------------------------------------------------ EMA
    def count_images(self, run: TrainerRun, n: int) -> None:
        """Count ``n`` images of this step and set the EMA decay for all of the step's images
        (with ``accumulate``, several calls a step)."""
        if run.step != self._counted_step:
            self._counted_step, self._seen_before, self._this_step = run.step, self.images_seen, 0
        self._this_step += n
        self.images_seen += n
        if self.generator_role in run.ema:
            run.ema[self.generator_role].decay = self.ema_beta(self._this_step, self._seen_before)

    def ema_beta(self, batch: int, images_seen: int | None = None) -> float:
        """0.5 ** (batch / half-life in images); the half-life ramps with the images seen
        before the step (default: all counted so far)."""
        seen = self.images_seen if images_seen is None else images_seen
        half_life = self.ema_kimg * 1000
        if self.ema_rampup is not None:
            half_life = min(half_life, seen * self.ema_rampup)
        return 0.5 ** (batch / max(half_life, 1e-8))

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        state = {**super().state_dict(), "images_seen": self.images_seen}
        if self.path_length is not None:
            state["pl_mean"] = self.path_length.pl_mean.detach().cpu().clone()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.images_seen = int(state.get("images_seen", 0))
        self._counted_step = -1  # the next step counts afresh (a resume or a rollback)
        if self.path_length is not None and "pl_mean" in state:
            device = self.path_length.pl_mean.device
            self.path_length.pl_mean = torch.as_tensor(state["pl_mean"]).float().to(device)
