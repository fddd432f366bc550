"""Length-bucketed training batches and the training precision setting."""

from __future__ import annotations

import random

import pytest

from training.finetune import LengthBucketBatchSampler, resolve_precision


def _dataset(lengths: list[int]) -> dict[str, list[str]]:
    return {"sentence_0": ["word " * n for n in lengths], "sentence_1": ["reference"] * len(lengths)}


def _epoch(sampler: LengthBucketBatchSampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_every_pair_is_seen_once_per_epoch_in_batches_of_the_batch_size():
    rng = random.Random(1)
    sampler = LengthBucketBatchSampler(_dataset([rng.randint(1, 80) for _ in range(103)]), 16, False, seed=42)

    batches = _epoch(sampler, 0)

    assert sorted(index for batch in batches for index in batch) == list(range(103))
    assert len(batches) == len(sampler) == 7
    assert sorted(len(batch) for batch in batches) == [7, 16, 16, 16, 16, 16, 16]


def test_drop_last_drops_the_short_batch():
    sampler = LengthBucketBatchSampler(_dataset(list(range(1, 104))), 16, True, seed=42)
    assert len(sampler) == 6
    assert all(len(batch) == 16 for batch in _epoch(sampler, 0))


def test_batches_hold_pairs_of_similar_length_so_little_is_padding():
    rng = random.Random(2)
    lengths = [rng.choice([rng.randint(3, 25), rng.randint(60, 120)]) for _ in range(640)]
    sampler = LengthBucketBatchSampler(_dataset(lengths), 16, False, seed=42)

    def padded_tokens(batches):
        return sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)

    shuffled = list(range(640))
    random.Random(3).shuffle(shuffled)
    random_batches = [shuffled[i : i + 16] for i in range(0, 640, 16)]
    assert padded_tokens(_epoch(sampler, 0)) < 0.6 * padded_tokens(random_batches)


def test_the_order_is_fixed_by_the_seed_and_changes_with_the_epoch():
    dataset = _dataset([n % 37 for n in range(200)])
    first = LengthBucketBatchSampler(dataset, 16, False, seed=42)
    again = LengthBucketBatchSampler(dataset, 16, False, seed=42)
    other_seed = LengthBucketBatchSampler(dataset, 16, False, seed=7)

    assert _epoch(first, 0) == _epoch(again, 0)
    assert _epoch(first, 1) != _epoch(first, 0)
    assert _epoch(other_seed, 0) != _epoch(first, 0)


def test_training_precision_setting():
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto") in {"fp32", "bf16"}
    with pytest.raises(ValueError, match="auto, fp32 or bf16"):
        resolve_precision("fp16")
