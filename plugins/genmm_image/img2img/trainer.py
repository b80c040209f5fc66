"""Trainers of paired image-to-image translation.

* ``image.pix2pix`` (Isola et al. 2017, section 3.3): ``core.gan`` with the paper's settings.
  One D step and one G step per batch; D's objective is divided by 2 ("we divide the
  objective by 2 while optimizing D, which slows down the rate at which D learns relative to
  G"); Adam with lr 2e-4 and betas (0.5, 0.999) for both networks. The recipe gives the
  adversarial loss (``core.bce``: the paper's log-loss, G maximising log D(x, G(x))) and the
  L1 term (``image.l1``, weight 100), and D sees the pair through ``core.gan``'s condition
  (the input image is the batch's ``condition``; a conditional D is called ``D(y, x)``).
* ``image.supervised``: the generator alone on the recipe's generator terms, no adversary:
  the "L1" row of the paper's table 1, the baseline a pix2pix recipe is measured against.

Both step through the core's optimisation path (``run.update``). Adam runs as torch's fused
kernel where the device has one (CPU, CUDA): the same update, several times faster than the
per-tensor loop on the U-Net's 40-55 M parameters (``optimizers.<role>.fused: false`` turns
it off).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.errors import RecipeError
from genmm.losses import AdversarialLoss, Context, Loss
from genmm.training import GANTrainer, Trainer, fetch_batch, generate, sample_latent
from genmm.training.gan import use_losses
from genmm_image.img2img.cyclegan import HistoryPool

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

PAPER_ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
FUSED_DEVICES = ("cpu", "cuda")


def paper_adam(device: torch.device | str, settings: dict[str, Any] = PAPER_ADAM) -> dict[str, Any]:
    """The paper's Adam (``settings``: pix2pix's unless given), as the fused kernel on devices
    that have one."""
    fused = torch.device(device).type in FUSED_DEVICES
    return {**settings, "fused": True} if fused else dict(settings)


def attach_data(run: TrainerRun, terms) -> None:
    """Hand the run's data set to every term that needs it (``image.feature_content``)."""
    for role, term in terms:
        if callable(getattr(term, "attach", None)):
            if run.dataset is not None:
                term.attach(run.dataset)
            elif getattr(term, "network", None) is None:  # nothing attached by hand either
                raise RecipeError(f"losses.{role} needs the run's data", key=f"losses.{role}")


def add_terms(terms, context: Context, logs: dict[str, Any], loss: Tensor | None = None) -> Tensor:
    """``loss`` (none: nothing) plus each term's weight x value, each value logged by its role."""
    for role, term in terms:
        value = term(context)
        logs[role] = value.detach()
        loss = term.weight * value if loss is None else loss + term.weight * value
    return loss


class PaperGANTrainer(GANTrainer):
    """``core.gan`` whose networks train with the paper's Adam (``paper_optimizer``) where the
    recipe names no optimiser: what pix2pix, SRGAN and the completion network's trainers share."""

    paper_optimizer: dict[str, Any] = PAPER_ADAM

    def setup(self, run: TrainerRun) -> None:
        adam = paper_adam(run.device, self.paper_optimizer)
        self.default_optimizers = {"generator": adam, "discriminator": adam}
        super().setup(run)


class Pix2PixTrainer(PaperGANTrainer):
    """``core.gan`` with pix2pix's halved D objective and its Adam settings."""

    registered_name = "image.pix2pix"

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        discriminator_scale: float = 0.5,
        ema: float | None = None,
    ) -> None:
        super().__init__(generator, discriminator, adversarial, losses, n_critic=1, ema=ema)
        if discriminator_scale <= 0:
            raise ValueError(f"discriminator_scale must be > 0, got {discriminator_scale}")
        self.discriminator_scale = discriminator_scale

    def setup(self, run: TrainerRun) -> None:
        super().setup(run)
        if not getattr(self.D, "conditional", False):
            raise RecipeError(
                "image.pix2pix needs a conditional discriminator that sees the input image "
                "(image.patchgan)",
                file=run.recipe_file,
                key=f"models.{self.discriminator_role}",
            )

    def discriminator_loss(self, context: Context, fake_scores: list[Tensor], logs: dict) -> Tensor:
        return self.discriminator_scale * super().discriminator_loss(context, fake_scores, logs)


class SupervisedTrainer(Trainer):
    """The generator alone, on the recipe's generator terms (``image.l1``): no adversary."""

    registered_name = "image.supervised"

    def __init__(
        self,
        generator: str = "generator",
        losses: list[str] | None = None,
        ema: float | None = None,
    ) -> None:
        if ema is not None and not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must lie in [0, 1), got {ema}")
        self.generator_role, self.loss_roles, self.ema_decay = generator, losses, ema
        self.updates = 0

    def setup(self, run: TrainerRun) -> None:
        self.G = run.model(self.generator_role)
        self.terms = use_losses(run, self.loss_roles)
        if not self.terms:
            raise RecipeError(
                "image.supervised needs at least one generator term (losses: {l1: {name: "
                "image.l1}})",
                file=run.recipe_file,
                key="losses",
            )
        for role, term in self.terms:
            kind = getattr(term, "role", None)
            if (
                isinstance(term, AdversarialLoss)
                or not isinstance(term, Loss)
                or kind != "generator"
            ):
                raise RecipeError(
                    f"image.supervised trains the generator alone; losses.{role} is not a "
                    "generator term (use image.pix2pix for an adversarial loss)",
                    file=run.recipe_file,
                    key=f"losses.{role}",
                )
            if term.every != 1:
                raise RecipeError(
                    "image.supervised runs every term each step", key=f"losses.{role}.every"
                )
        attach_data(run, self.terms)
        run.add_optimizer(self.generator_role, default=paper_adam(run.device))
        if self.ema_decay is not None:
            run.add_ema(self.generator_role, self.ema_decay)

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        logs: dict[str, Any] = {}

        def compute() -> Tensor:
            real, condition = fetch_batch(run)
            fake = generate(self.G, sample_latent(self.G, real.shape[0], run.device), condition)
            context = Context(self.G, None, real, fake, condition, step=run.step)
            return add_terms(self.terms, context, logs)

        logs["g_loss"] = run.update(self.generator_role, compute)
        self.updates += 1
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state.get("updates", 0))


# ====================================================================== content + adversarial
class ContentGANTrainer(PaperGANTrainer):
    """``core.gan`` whose adversarial term enters G's objective scaled by
    ``adversarial_weight`` (D's objective is the adversarial loss unscaled), beside the
    recipe's content terms; with ``update_generator: false`` only D is trained, on the fakes
    of the fixed generator."""

    registered_name = "image.content_gan"

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        adversarial_weight: float = 1e-3,
        update_generator: bool = True,
        ema: float | None = None,
    ) -> None:
        super().__init__(generator, discriminator, adversarial, losses, n_critic=1, ema=ema)
        if adversarial_weight < 0:
            raise ValueError(f"adversarial_weight must be >= 0, got {adversarial_weight}")
        self.adversarial_weight, self.update_generator = adversarial_weight, update_generator

    def setup(self, run: TrainerRun) -> None:
        super().setup(run)
        attach_data(run, self.g_terms + self.g_lazy)

    def generator_loss(self, context: Context, logs: dict) -> Tensor:
        adversarial = self.adversarial.generator_loss(context.fake_scores)
        logs["g_adversarial"] = adversarial.detach()
        loss = self.adversarial_weight * self.adversarial.weight * adversarial
        return add_terms(self.g_terms, context, logs, loss)

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        if self.update_generator:
            return super().train_step(run)
        logs: dict[str, Any] = {}

        def d_compute() -> Tensor:  # the generator is fixed: D alone learns
            real, condition = fetch_batch(run)
            with torch.no_grad():
                fake = self.make_fake(
                    run, sample_latent(self.G, real.shape[0], run.device), condition
                )
            context = Context(self.G, self.D, real, fake, condition, step=run.step)
            context.discriminator_call = self.score
            context.real_scores, context.real_features = self.score(real, condition)
            fake_scores, _ = self.score(fake, condition)
            return self.discriminator_loss(context, fake_scores, logs)

        logs["d_loss"] = run.update(self.discriminator_role, d_compute)
        self.adversarial.after_discriminator_step(self.D)
        self.d_steps += 1
        return logs


class SRGANTrainer(ContentGANTrainer):
    """SRGAN (Ledig et al. 2017, section 2.2 and 3.2): G minimises the content loss plus
    10^-3 x the adversarial loss (eq. 3; -log D(G(x)) in eq. 6: ``core.nonsaturating``), D the
    log loss; Adam with lr 10^-4 and beta1 0.9 (section 3.2, the GAN phase's first half)."""

    registered_name = "image.srgan"
    paper_optimizer = {"name": "adam", "lr": 1e-4, "betas": [0.9, 0.999]}


class InpaintTrainer(ContentGANTrainer):
    """The completion network's joint training (Iizuka et al. 2017, section 3.3, eq. 3):
    min_C max_D  L(x, M_c) + alpha (log D(x, M_d) + log(1 - D(C(x, M_c), M_c))) with alpha =
    0.0004: G on the reconstruction term plus alpha x the adversarial one, D on the log loss
    (``core.bce``); ``update_generator: false`` is the paper's second phase (D alone on the
    completions of the fixed completion network). The paper uses ADADELTA; the core's
    optimisers do not include it, so the default is the pix2pix Adam (lr 2e-4, betas (0.5,
    0.999)), which the recipe may change."""

    registered_name = "image.inpaint"

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        adversarial_weight: float = 4e-4,
        update_generator: bool = True,
        ema: float | None = None,
    ) -> None:
        super().__init__(generator, discriminator, adversarial, losses, adversarial_weight,
                         update_generator, ema)  # fmt: skip


# ====================================================================== CycleGAN
class CycleGANTrainer(Trainer):
    """CycleGAN (Zhu et al. 2017, section 3 and 4; the authors' ``CycleGANModel``).

    Two generators, ``generator`` (G: A -> B) and ``generator_ba`` (F: B -> A), and two
    unconditional discriminators, ``discriminator_b`` (D_B: real B vs G(A)) and
    ``discriminator_a`` (D_A: real A vs F(B)). Each step, as the authors' code:

    1. the generators' update (one optimiser over both, role ``generator``): the adversarial
       terms of G(A) under D_B and F(B) under D_A, the cycle terms lambda ||F(G(a)) - a||_1 and
       lambda ||G(F(b)) - b||_1 (``cycle``: lambda = 10, eq. 2-3) and the identity terms
       lambda_id lambda ||G(b) - b||_1 and lambda_id lambda ||F(a) - a||_1 (``identity``:
       0.5, section 5.2 "Photo generation from paintings");
    2. the discriminators' update (one optimiser over both, role ``discriminator``), each on
       real images and generated ones drawn from its :class:`HistoryPool` of ``pool_size`` (50)
       images.

    The objective is the recipe's adversarial loss: ``core.lsgan`` is the paper's least-squares
    loss (section 4: D minimises E[(D(y) - 1)^2] + E[D(G(x))^2], divided by 2, which is
    ``core.lsgan``'s D term; G minimises E[(D(G(x)) - 1)^2], which is ``generator_scale`` (2)
    times ``core.lsgan``'s G term, halved by Mao et al.'s eq. 2). Adam lr 2e-4, betas (0.5,
    0.999) for both optimisers; the paper's constant rate then linear decay to zero is the core's
    schedule ``{name: linear, hold: N}`` in the recipe.

    Exactly the same sums, fewer calls: the generators and discriminators have no batch
    statistics (instance norm normalises each image alone), so G runs once on [a, b] for G(a)
    and the identity G(b), F once on [b, a, G(a)] for F(b), F(a) and the cycle F(G(a)), and each
    D once on its reals and pooled fakes together.
    """

    registered_name = "image.cyclegan"

    def __init__(
        self,
        generator: str = "generator",
        generator_ba: str = "generator_ba",
        discriminator_a: str = "discriminator_a",
        discriminator_b: str = "discriminator_b",
        adversarial: str = "adversarial",
        cycle: float = 10.0,
        identity: float = 0.5,
        pool_size: int = 50,
        generator_scale: float = 2.0,
    ) -> None:
        if cycle < 0 or identity < 0 or generator_scale <= 0:
            raise ValueError("cycle and identity must be >= 0 and generator_scale > 0")
        self.roles = (generator, generator_ba, discriminator_a, discriminator_b)
        self.adversarial_role = adversarial
        self.cycle, self.identity, self.generator_scale = cycle, identity, generator_scale
        self.pool_a, self.pool_b = HistoryPool(pool_size), HistoryPool(pool_size)
        self.steps = 0

    def setup(self, run: TrainerRun) -> None:
        self.G_ab, self.G_ba, self.D_a, self.D_b = (run.model(role) for role in self.roles)
        self.adversarial = run.loss(self.adversarial_role, AdversarialLoss)
        for role in self.roles[2:]:
            if getattr(run.model(role), "conditional", False):
                raise RecipeError(
                    "image.cyclegan's discriminators see one image: set conditional: false "
                    "(image.patchgan)",
                    file=run.recipe_file,
                    key=f"models.{role}",
                )
        for role in run.losses:
            if role != self.adversarial_role:
                raise RecipeError(
                    f"image.cyclegan's cycle and identity terms are its own keys (cycle, "
                    f"identity); losses.{role} is not used",
                    file=run.recipe_file,
                    key=f"losses.{role}",
                )
        adam = paper_adam(run.device)
        run.add_optimizer(
            "generator",
            default=adam,
            parameters=itertools.chain(self.G_ab.parameters(), self.G_ba.parameters()),
        )
        run.add_optimizer(
            "discriminator",
            default=adam,
            parameters=itertools.chain(self.D_a.parameters(), self.D_b.parameters()),
        )

    def translate(self, a: Tensor, b: Tensor) -> dict[str, Tensor]:
        """Every image the generators' update needs, in three calls (see the class doc)."""
        n, identity = a.shape[0], self.identity > 0
        out_ab = self.G_ab(torch.cat([a, b]) if identity else a)  # G(a) [, G(b)]
        fake_b = out_ab[:n]
        out_ba = self.G_ba(torch.cat([b, a, fake_b]) if identity else torch.cat([b, fake_b]))
        fake_a = out_ba[:n]  # F(b)
        images = {"fake_b": fake_b, "fake_a": fake_a, "cycle_a": out_ba[-n:]}  # F(G(a))
        images["cycle_b"] = self.G_ab(fake_a)  # G(F(b))
        if identity:
            images["same_b"], images["same_a"] = out_ab[n:], out_ba[n : 2 * n]
        return images

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        made: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
        scale = self.generator_scale * self.adversarial.weight
        self.D_a.requires_grad_(False)
        self.D_b.requires_grad_(False)
        try:

            def g_compute() -> Tensor:
                b, a = fetch_batch(run)
                images = self.translate(a, b)
                made.append((a, b, images["fake_a"].detach(), images["fake_b"].detach()))
                adversarial_b = self.adversarial.generator_loss([self.D_b(images["fake_b"])])
                adversarial_a = self.adversarial.generator_loss([self.D_a(images["fake_a"])])
                cycle_a = F.l1_loss(images["cycle_a"], a)
                cycle_b = F.l1_loss(images["cycle_b"], b)
                loss = scale * (adversarial_a + adversarial_b)
                loss = loss + self.cycle * (cycle_a + cycle_b)
                logs.update(g_adversarial_ab=adversarial_b.detach(),
                            g_adversarial_ba=adversarial_a.detach(),
                            cycle_a=cycle_a.detach(), cycle_b=cycle_b.detach())  # fmt: skip
                if self.identity > 0:
                    same_a = F.l1_loss(images["same_a"], a)
                    same_b = F.l1_loss(images["same_b"], b)
                    loss = loss + self.identity * self.cycle * (same_a + same_b)
                    logs.update(identity_a=same_a.detach(), identity_b=same_b.detach())
                return loss

            logs["g_loss"] = run.update("generator", g_compute)
        finally:
            self.D_a.requires_grad_(True)
            self.D_b.requires_grad_(True)
        pending = iter(made)

        def d_compute() -> Tensor:
            a, b, fake_a, fake_b = next(pending)
            loss = None
            for name, D, real, fake, pool in (
                ("d_b", self.D_b, b, fake_b, self.pool_b),
                ("d_a", self.D_a, a, fake_a, self.pool_a),
            ):
                scores = D(torch.cat([real, pool.query(fake)]))  # reals and pooled fakes at once
                real_scores, fake_scores = scores[: len(real)], scores[len(real) :]
                value = self.adversarial.weight * self.adversarial.discriminator_loss(
                    [real_scores], [fake_scores]
                )
                logs[name] = value.detach()
                loss = value if loss is None else loss + value
            return loss

        logs["d_loss"] = run.update("discriminator", d_compute)
        self.adversarial.after_discriminator_step(self.D_a)
        self.adversarial.after_discriminator_step(self.D_b)
        self.steps += 1
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "pool_a": self.pool_a.state_dict(),
                "pool_b": self.pool_b.state_dict()}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state.get("steps", 0))
        device = next(self.G_ab.parameters()).device if hasattr(self, "G_ab") else "cpu"
        for name, pool in (("pool_a", self.pool_a), ("pool_b", self.pool_b)):
            if name in state:
                pool.load_state_dict(state[name], device)
