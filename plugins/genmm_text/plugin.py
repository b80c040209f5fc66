"""Hook implementations of the text plugin."""

from __future__ import annotations

from pathlib import Path

import genmm
from genmm_text.data import CorpusDataset, NewsDataset, OracleDataset, PaperOracleDataset
from genmm_text.discriminator import CNNDiscriminator
from genmm_text.generator import GPT2Generator, LSTMGenerator
from genmm_text.metrics import BLEU, OracleNLL, SelfBLEU, TestNLL
from genmm_text.trainer import DiscriminatorPretrainer, MLETrainer, SeqGANTrainer
from genmm_text.writers import TextWriter

PAPER = "Yu et al., SeqGAN, AAAI 2017"


@genmm.hookimpl
def genmm_register_datasets(register):
    register(
        "text.oracle",
        OracleDataset,
        paper=PAPER,
        about="LSTM oracle, V 5000, T 20: drawn N(0, 1), or loaded from params=PATH",
    )
    register(
        "text.paper_oracle",
        PaperOracleDataset,
        paper=PAPER,
        about="the authors' oracle (params=PATH: LantaoYu/SeqGAN save/target_params_py3.pkl)",
    )
    register("text.corpus", CorpusDataset, about="your text file or folder, trained tokenizer")
    register("text.news", NewsDataset, about="the Lee corpus of 300 ABC news articles (gensim)")


@genmm.hookimpl
def genmm_register_models(register):
    register("text.lstm_generator", LSTMGenerator, paper=PAPER)
    register("text.gpt2_generator", GPT2Generator, paper="Radford et al. 2019 (GPT-2)")
    register("text.cnn_discriminator", CNNDiscriminator, paper=PAPER)


@genmm.hookimpl
def genmm_register_trainers(register):
    register("text.mle", MLETrainer, paper=PAPER)
    register("text.discriminator_pretrain", DiscriminatorPretrainer, paper=PAPER)
    register("text.seqgan_adversarial", SeqGANTrainer, paper=PAPER + ", algorithm 1")


@genmm.hookimpl
def genmm_register_metrics(register):
    register("text.nll_oracle", OracleNLL, paper=PAPER)
    register("text.nll_test", TestNLL)
    register("text.bleu", BLEU, paper="Papineni et al. 2002")
    register("text.self_bleu", SelfBLEU, paper="Zhu et al. 2018 (Texygen)")


@genmm.hookimpl
def genmm_register_writers(register):
    register("text.lines", TextWriter)


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "recipes"]
