"""Splitting, subsetting and minibatch iteration."""

import numpy as np
import pytest

from barecnn.data import iterate_minibatches, num_batches, subset, train_val_split


def toy_data(n=23):
    images = np.arange(n * 4, dtype=np.float32).reshape(n, 2, 2)
    labels = np.arange(n)
    return images, labels


@pytest.mark.parametrize("n, batch_size, expected", [(0, 4, 0), (8, 4, 2), (9, 4, 3), (3, 10, 1)])
def test_num_batches(n, batch_size, expected):
    assert num_batches(n, batch_size) == expected


def test_num_batches_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        num_batches(10, 0)


def test_unshuffled_batches_keep_order_and_partial_last_batch():
    images, labels = toy_data(23)
    batches = list(iterate_minibatches(images, labels, 5, shuffle=False))
    assert [len(y) for _, y in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), labels)
    for x, y in batches:
        np.testing.assert_array_equal(x, images[y])


def test_each_epoch_sees_every_sample_once_in_a_new_order():
    images, labels = toy_data(23)
    rng = np.random.default_rng(0)
    epochs = []
    for _ in range(3):
        batches = list(iterate_minibatches(images, labels, 4, shuffle=True, rng=rng))
        assert len(batches) == num_batches(23, 4) and len(batches[-1][1]) == 3
        order = np.concatenate([y for _, y in batches])
        assert sorted(order.tolist()) == list(range(23))
        for x, y in batches:
            np.testing.assert_array_equal(x, images[y])
        epochs.append(order)
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])


def test_shuffling_is_deterministic_with_a_seed():
    images, labels = toy_data(23)

    def orders(seed):
        rng = np.random.default_rng(seed)
        return [
            np.concatenate([y for _, y in iterate_minibatches(images, labels, 4, True, rng)])
            for _ in range(2)
        ]

    first, second = orders(7), orders(7)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_minibatches_check_lengths_eagerly():
    images, labels = toy_data(5)
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        iterate_minibatches(images, labels[:4], 2)


def test_train_val_split_partitions_the_data():
    images, labels = toy_data(23)
    train_x, train_y, val_x, val_y = train_val_split(images, labels, 5, np.random.default_rng(1))
    assert len(val_y) == 5 and len(train_y) == 18
    assert sorted(np.concatenate([train_y, val_y]).tolist()) == list(range(23))
    np.testing.assert_array_equal(val_x, images[val_y])
    _, _, _, val_fraction = train_val_split(images, labels, 0.2, np.random.default_rng(1))
    assert len(val_fraction) == 5


def test_train_val_split_is_deterministic_and_random():
    images, labels = toy_data(50)
    a = train_val_split(images, labels, 10, np.random.default_rng(3))[3]
    b = train_val_split(images, labels, 10, np.random.default_rng(3))[3]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.sort(a), np.arange(10))


def test_train_val_split_rejects_bad_sizes():
    images, labels = toy_data(5)
    with pytest.raises(ValueError):
        train_val_split(images, labels, 6, np.random.default_rng(0))
    with pytest.raises(ValueError):
        train_val_split(images, labels, 1.5, np.random.default_rng(0))


def test_subset_first_and_random():
    images, labels = toy_data(23)
    x, y = subset(images, labels, 4)
    np.testing.assert_array_equal(y, [0, 1, 2, 3])
    x, y = subset(images, labels, 6, rng=np.random.default_rng(0))
    assert len(set(y.tolist())) == 6
    np.testing.assert_array_equal(x, images[y])
    assert len(subset(images, labels, 100)[1]) == 23
