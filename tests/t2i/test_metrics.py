"""R-precision against a hand-computed case."""

from __future__ import annotations

import pytest
import torch

from genmm_t2i.metrics import candidate_indices, r_precision


def test_r_precision_by_hand():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    captions = torch.tensor(
        [
            [[2.0, 0.1], [0.0, 1.0], [1.0, 1.0]],  # true caption closest: a hit
            [[1.0, 0.0], [0.0, 3.0], [0.2, 1.0]],  # a mismatched caption is closer: a miss
            [[1.0, 1.0], [2.0, 2.0], [0.0, 1.0]],  # a tie with a mismatched one: a miss
        ]
    )
    # cosines (truth first): image 0: 0.9988, 0, 0.7071 (rank 1); image 1: 0, 1.0, 0.9806
    # (rank 3); image 2: 1, 1, 0.7071 (tied with a mismatch: rank 2)
    assert r_precision(images, captions) == pytest.approx(1 / 3)
    assert r_precision(images, captions, r=2) == pytest.approx(2 / 3)
    assert r_precision(images, captions, r=3) == pytest.approx(1.0)


def test_candidates_are_the_truth_then_other_texts():
    tokens = torch.tensor([[1, 2], [1, 2], [3, 4], [5, 6], [7, 8]])
    pool = candidate_indices(tokens, 3, torch.Generator().manual_seed(0))
    assert pool.shape == (5, 3) and pool[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert 1 not in pool[0, 1:].tolist() and 0 not in pool[1, 1:].tolist()  # same caption
    assert all(len(set(row.tolist())) == 3 for row in pool)
