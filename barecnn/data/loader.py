"""Splitting, subsetting and minibatch iteration over in-memory arrays."""

import numpy as np


def _check_pair(images, labels):
    """Raise ValueError unless images and labels have the same first dimension."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")


def train_val_split(images, labels, val_size, rng):
    """Hold out a random validation set.

    Parameters
    ----------
    images : np.ndarray, (N, ...)
    labels : np.ndarray, (N,)
    val_size : int or float
        Number of validation samples, or a fraction of N in (0, 1).
    rng : np.random.Generator
        Source of the random permutation.

    Returns
    -------
    train_x : np.ndarray, (N - V, ...)
    train_y : np.ndarray, (N - V,)
    val_x : np.ndarray, (V, ...)
    val_y : np.ndarray, (V,)
    """
    _check_pair(images, labels)
    n = len(images)
    n_val = _count_from_size(val_size, n)
    order = rng.permutation(n)
    val_index, train_index = order[:n_val], order[n_val:]
    return images[train_index], labels[train_index], images[val_index], labels[val_index]


def _count_from_size(size, n):
    """Turn an int count or a float fraction of ``n`` into a count within 0..n."""
    if isinstance(size, (float, np.floating)):
        if not 0.0 <= size < 1.0:
            raise ValueError(f"a fractional val_size must be in [0, 1), got {size}")
        return int(round(size * n))
    if not 0 <= size <= n:
        raise ValueError(f"val_size must be between 0 and {n}, got {size}")
    return int(size)


def subset(images, labels, n, rng=None):
    """Take ``n`` samples: the first ``n``, or a random ``n`` if ``rng`` is given.

    Parameters
    ----------
    images : np.ndarray, (N, ...)
    labels : np.ndarray, (N,)
    n : int
        Samples to keep; values above N keep everything.
    rng : np.random.Generator, optional
        If given, the samples are drawn without replacement (in random order).

    Returns
    -------
    images : np.ndarray, (min(n, N), ...)
    labels : np.ndarray, (min(n, N),)
    """
    _check_pair(images, labels)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    n = min(int(n), len(images))
    if rng is None:
        return images[:n], labels[:n]
    index = rng.choice(len(images), size=n, replace=False)
    return images[index], labels[index]


def num_batches(n, batch_size):
    """Number of minibatches in one epoch of ``n`` samples, counting a partial last one."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return -(-n // batch_size)


def iterate_minibatches(images, labels, batch_size, shuffle=True, rng=None):
    """Return an iterator over one epoch of minibatches.

    Call it once per epoch; with ``shuffle`` each call draws a fresh
    permutation from ``rng``, so epochs see different orders. Every sample
    appears exactly once per epoch; the last batch may be smaller.

    Parameters
    ----------
    images : np.ndarray, (N, ...)
    labels : np.ndarray, (N,)
    batch_size : int
    shuffle : bool
    rng : np.random.Generator, optional
        Used when shuffling; a fresh unseeded generator if None.

    Returns
    -------
    iterator of (x_batch, y_batch)
        ``x_batch`` is (B, ...) and ``y_batch`` (B,), with B = batch_size
        except possibly for the last batch.
    """
    _check_pair(images, labels)
    num_batches(len(images), batch_size)  # validates batch_size now, not at the first next()
    order = None
    if shuffle:
        order = (rng if rng is not None else np.random.default_rng()).permutation(len(images))
    return _batches(images, labels, batch_size, order)


def _batches(images, labels, batch_size, order):
    """Generate (x, y) batches in ``order`` (None: storage order, sliced without copying)."""
    for start in range(0, len(images), batch_size):
        if order is None:
            index = slice(start, start + batch_size)
        else:
            index = order[start : start + batch_size]
        yield images[index], labels[index]
