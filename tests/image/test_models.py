"""DCGAN, conditional and MLP models: parameter counts at the paper's widths (worked out by
hand from the layer shapes), output shapes, and the options (minibatch std, features)."""

from __future__ import annotations

import pytest
import torch

from genmm_image.conditional import (
    ConcatDiscriminator,
    ConditionalGenerator,
    ProjectionDiscriminator,
)
from genmm_image.dcgan import DCGANDiscriminator, DCGANGenerator
from genmm_image.layers import MinibatchStd
from genmm_image.vanilla import MLPDiscriminator, MLPGenerator


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_dcgan_generator_parameters_at_the_paper_widths():
    """Radford et al. 2015, figure 1: z 100 -> 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128
    -> 64x64x3, 5x5 kernels; batch norm everywhere but the output (which keeps its bias).

    project  Linear 100 -> 16*1024, no bias   100*16384        = 1,638,400
             BN(1024)                         2*1024           =     2,048
    up 1     ConvT 1024 -> 512, 5x5, no bias  1024*512*25      = 13,107,200
             BN(512)                                           =     1,024
    up 2     ConvT 512 -> 256                 512*256*25       =  3,276,800
             BN(256)                                           =       512
    up 3     ConvT 256 -> 128                 256*128*25       =    819,200
             BN(128)                                           =       256
    output   ConvT 128 -> 3 + bias            128*3*25 + 3     =     9,603
    total                                                      = 18,855,043
    """
    G = DCGANGenerator(latent_dim=100, image_size=64, channels=3, width=128, kernel_size=5)
    assert count(G.trunk.project) == 1_638_400
    assert count(G) == 18_855_043
    assert G(G.sample_latent(2, "cpu")).shape == (2, 3, 64, 64)


def test_dcgan_discriminator_parameters_at_the_paper_widths():
    """The mirror image: 64x64x3 -> 32x32x128 (no BN, so a bias) -> 16x16x256 -> 8x8x512
    -> 4x4x1024 -> flatten -> one logit.

    conv 1   3 -> 128, 5x5 + bias             3*128*25 + 128   =     9,728
    conv 2   128 -> 256, no bias; BN(256)     819,200 + 512    =   819,712
    conv 3   256 -> 512; BN(512)              3,276,800 + 1,024 = 3,277,824
    conv 4   512 -> 1024; BN(1024)            13,107,200 + 2,048 = 13,109,248
    output   Linear 16*1024 -> 1 + bias       16,384 + 1       =    16,385
    total                                                      = 17,232,897
    """
    D = DCGANDiscriminator(image_size=64, channels=3, width=128, kernel_size=5)
    assert count(D.output) == 16_385
    assert count(D) == 17_232_897
    assert D(torch.randn(2, 3, 64, 64)).shape == (2, 1)


def test_dcgan_at_the_pytorch_examples_widths():
    """ngf = ndf = 64 with 4x4 kernels: pytorch/examples' G has 3,576,704 parameters and D
    2,765,568; ours add G's output bias (3) and D's first-layer and output biases (64 + 1).

    G: 100*8192 + 512*256*16 + 256*128*16 + 128*64*16 + (64*3*16 + 3) + BN 2*(512+256+128+64)
       = 819,200 + 2,097,152 + 524,288 + 131,072 + 3,075 + 1,920 = 3,576,707
    D: (3*64*16 + 64) + 64*128*16 + 128*256*16 + 256*512*16 + (8192 + 1) + BN 2*(128+256+512)
       = 3,136 + 131,072 + 524,288 + 2,097,152 + 8,193 + 1,792 = 2,765,633
    """
    G = DCGANGenerator(image_size=64, channels=3, width=64, kernel_size=4)
    D = DCGANDiscriminator(image_size=64, channels=3, width=64, kernel_size=4)
    assert count(G) == 3_576_704 + 3
    assert count(D) == 2_765_568 + 65
    assert G(torch.rand(2, 100)).shape == (2, 3, 64, 64)


def test_dcgan_follows_the_paper_rules():
    G = DCGANGenerator(image_size=32, channels=1, width=16)
    D = DCGANDiscriminator(image_size=32, channels=1, width=16)
    # N(0, 0.02) weights, uniform z in [-1, 1], tanh output, no BN in D's first block
    assert abs(G.trunk.project.weight.std().item() - 0.02) < 0.002
    z = G.sample_latent(1000, "cpu")
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99
    assert G(z[:4]).abs().max() <= 1
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.trunk.blocks[0])
    assert all(
        any(isinstance(m, torch.nn.BatchNorm2d) for m in block) for block in D.trunk.blocks[1:]
    )
    slopes = [m.negative_slope for m in D.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert slopes == [0.2, 0.2, 0.2]
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(image_size=48)


def test_discriminator_options_minibatch_std_and_features():
    D = DCGANDiscriminator(image_size=16, channels=3, width=8, minibatch_std=True, features=True)
    scores, features = D(torch.randn(8, 3, 16, 16))
    assert scores.shape == (8, 1)
    assert [f.shape[1:] for f in features] == [(8, 8, 8), (16, 4, 4)]
    # the output sees one more map: 16 * (16 + 1) inputs
    assert D.output.in_features == 16 * 17


def test_minibatch_std_feature_is_the_group_spread():
    x = torch.zeros(4, 2, 3, 3)
    x[1] = 2.0  # groups of 4 (the whole batch): per-feature std over {0, 2, 0, 0} = sqrt(0.75)
    out = MinibatchStd(group_size=4)(x)
    assert out.shape == (4, 3, 3, 3)
    assert torch.allclose(out[:, 2], torch.full((4, 3, 3), 0.75**0.5), atol=1e-4)
    same = MinibatchStd()(torch.ones(4, 2, 3, 3))
    assert same[:, 2].abs().max() < 1e-3  # identical samples: no spread


def test_conditional_models_take_labels():
    G = ConditionalGenerator(num_classes=10, image_size=16, channels=1, width=8)
    labels = torch.arange(4)
    images = G(G.sample_latent(4, "cpu"), labels)
    assert images.shape == (4, 1, 16, 16)
    # the label changes the image for the same z
    z = G.sample_latent(1, "cpu").expand(2, -1)
    pair = G.eval()(z, torch.tensor([0, 1]))
    assert not torch.allclose(pair[0], pair[1])
    concat = ConcatDiscriminator(num_classes=10, image_size=16, channels=1, width=8)
    assert concat.trunk.blocks[0][0].in_channels == 1 + 10  # image + one-hot label maps
    assert concat(images, labels).shape == (4, 1)
    projection = ProjectionDiscriminator(num_classes=10, image_size=16, channels=1, width=8)
    assert projection.conditional and concat.conditional
    assert projection(images, labels).shape == (4, 1)


def test_projection_discriminator_is_psi_plus_the_label_projection():
    """f(x, y) = psi(phi(x)) + <V_y, phi(x)> (Miyato & Koyama 2018, eq. 3)."""
    torch.manual_seed(0)
    D = ProjectionDiscriminator(num_classes=3, image_size=8, channels=1, width=4).eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        phi = D.trunk(x)[-1].sum(dim=(2, 3))
        label = torch.tensor([2, 0])
        expected = D.psi(phi) + (D.embedding(label) * phi).sum(1, keepdim=True)
        assert torch.allclose(D(x, label), expected, atol=1e-6)


def test_mlp_gan_of_goodfellow_et_al():
    """G: 100 -> 1200 -> 1200 -> 784 (ReLU, ReLU, tanh); D: maxout 240x5, 240x5 -> 1.

    G = (100*1200 + 1200) + (1200*1200 + 1200) + (1200*784 + 784) = 2,503,984
    D = (784*1200 + 1200) + (240*1200 + 1200) + (240 + 1)         = 1,231,441
    """
    G = MLPGenerator(latent_dim=100, image_size=28, channels=1)
    D = MLPDiscriminator(image_size=28, channels=1)
    assert count(G) == 2_503_984
    assert count(D) == 1_231_441
    assert D(G(G.sample_latent(3, "cpu"))).shape == (3, 1)


def test_models_take_the_shape_facts_from_the_data_description():
    """Image size, channels and the class count left out come from the data's description
    (the same with or without the data: a checkpoint keeps it); given, they must match."""
    from genmm_image.infogan.models import InfoGANDiscriminator, InfoGANGenerator
    from genmm_image.stylegan2.discriminator import StyleGAN2Discriminator
    from genmm_image.stylegan2.generator import StyleGAN2Generator

    description = {"image_size": 8, "channels": 1, "num_classes": 4}
    G = DCGANGenerator(width=8, description=description)
    D = DCGANDiscriminator(width=8, description=description)
    assert G(G.sample_latent(2, "cpu")).shape == (2, 1, 8, 8)
    assert D.trunk.blocks[0][0].in_channels == 1
    conditional = ConditionalGenerator(width=8, description=description)
    assert conditional.num_classes == 4 and conditional.embedding.num_embeddings == 4
    concat = ConcatDiscriminator(width=8, description=description)
    assert concat.trunk.blocks[0][0].in_channels == 1 + 4
    projection = ProjectionDiscriminator(width=8, description=description)
    assert projection.embedding.num_embeddings == 4
    mlp = MLPGenerator(hidden=[8], description=description)
    assert mlp(mlp.sample_latent(3, "cpu")).shape == (3, 1, 8, 8)
    assert MLPDiscriminator(units=[8], description=description).net[2].linear.in_features == 64
    info = InfoGANGenerator(description=description)
    assert info(info.sample_latent(2, "cpu")).shape == (2, 1, 8, 8)
    assert InfoGANDiscriminator(description=description).trunk[0].in_channels == 1
    tiny = dict(z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=8)
    style = StyleGAN2Generator(description=description, **tiny)
    assert style(torch.randn(2, 8)).shape == (2, 1, 8, 8)
    assert StyleGAN2Discriminator(description=description, channel_base=64).channels == 1
    # without a description: the papers' defaults; a contradiction names both sides
    assert DCGANGenerator(width=8).image_size == 64
    with pytest.raises(ValueError, match="image_size is 16 but the data gives image_size 8"):
        DCGANGenerator(image_size=16, description=description)
    with pytest.raises(ValueError, match="num_classes is 10 but the data gives num_classes 4"):
        ConditionalGenerator(num_classes=10, description=description)
    with pytest.raises(ValueError, match="resolution is 32"):
        InfoGANGenerator(resolution=32, description=description)


def test_a_model_that_does_not_fit_the_data_is_a_recipe_error_naming_it(manager, tmp_path):
    import genmm
    from genmm.errors import RecipeError

    recipe = {
        "data": {"name": "image.shapes", "size": 8, "count": 16},
        "models": {
            "generator": {"name": "image.dcgan_generator", "image_size": 16, "width": 8},
            "discriminator": {"name": "image.dcgan_discriminator", "width": 8},
        },
        "losses": {"adversarial": {"name": "core.nonsaturating"}},
        "phases": {"gan": {"trainer": "core.gan", "max_steps": 1, "batch_size": 4}},
        "runtime": {"progress": False},
    }
    with pytest.raises(RecipeError, match="image_size is 16") as error:
        genmm.train(recipe, out=tmp_path / "run", manager=manager)
    assert "models.generator" in str(error.value)
