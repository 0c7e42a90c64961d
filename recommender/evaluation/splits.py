"""How the data is split for evaluation, and who is asked what.

- holdout: ``implicit.evaluation.train_test_split(X, train_share, random_state=seed)`` of the
  interactions (the figures in the README use it);
- held-out users (MSD Challenge / Liang et al. 2018): a share of the users is held out whole,
  each one's history split into a visible half (folded in) and a hidden half (to find);
- the cases asked about held-out users: one song of theirs as the seed (item2item,
  /soundalike), their visible half (users, /foryou), two songs as a mix's seeds (/mix).

Every draw is seeded, so the model, the baseline and every setting are asked about the same
users and seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.errors import ConfigError

DEFAULT_MAX_HELDOUT_USERS = 5000
# holdout scores every user with held-out plays against every song: at MSD scale (1 M users,
# 1 M songs) that is hours on 2 cores, so at most this many, drawn with the split's seed.
# Last.fm 2k (1,892) and the demo (6,000) are scored whole.
DEFAULT_MAX_HOLDOUT_USERS = 20_000
# A mix case: this many of a held-out user's songs are the seeds.
MIX_SEEDS = 2


def interactions_of(dataset: Dataset | sp.spmatrix) -> sp.csr_matrix:
    """The users x items play counts of a Dataset, or the matrix itself."""
    return sp.csr_matrix(dataset.interactions if isinstance(dataset, Dataset) else dataset)


def _check_share(train_share: float) -> None:
    if not 0 < train_share < 1:
        raise ConfigError(f"train_share must be between 0 and 1, got {train_share}")


# -- holdout ---------------------------------------------------------------------------
def holdout_split(counts: sp.spmatrix, train_share: float, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """implicit's random split of the interactions (the figures in the README use it)."""
    from implicit.evaluation import train_test_split

    _check_share(train_share)
    train, test = train_test_split(sp.csr_matrix(counts), train_share, random_state=seed)
    return train.tocsr(), test.tocsr()


def sample_test_users(test: sp.csr_matrix, max_users: int, seed: int) -> sp.csr_matrix:
    """``test`` with the held-out plays of at most ``max_users`` users (a seeded draw) kept."""
    users = np.flatnonzero(np.diff(test.indptr))
    if users.size <= max_users:
        return test
    kept = np.zeros(test.shape[0], dtype=test.dtype)
    kept[np.random.default_rng(seed).choice(users, max_users, replace=False)] = 1
    sampled = sp.csr_matrix(sp.diags(kept) @ test)
    sampled.eliminate_zeros()
    return sampled


def stack_extra(
    train: sp.csr_matrix, test: sp.csr_matrix, extra: sp.spmatrix | None
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Append extra training-only rows (feedback listeners) below train; test gets empty rows."""
    if extra is None or extra.shape[0] == 0:
        return train, test
    extra = sp.csr_matrix(extra, dtype=train.dtype)
    if extra.shape[1] != train.shape[1]:
        raise ValueError(f"extra rows have {extra.shape[1]} items, the dataset {train.shape[1]}")
    empty = sp.csr_matrix((extra.shape[0], test.shape[1]), dtype=test.dtype)
    return sp.vstack([train, extra], format="csr"), sp.vstack([test, empty], format="csr")


# -- held-out users --------------------------------------------------------------------
@dataclass
class UsersSplit:
    train: sp.csr_matrix  # the other users, whole
    users: np.ndarray  # held-out user rows (in the original matrix)
    visible: list[np.ndarray]  # item indices folded in
    hidden: list[np.ndarray]  # item indices to find


def users_split(
    counts: sp.spmatrix,
    train_share: float,
    seed: int,
    *,
    visible_share: float = 0.5,
    max_users: int = DEFAULT_MAX_HELDOUT_USERS,
) -> UsersSplit:
    """Hold out ``1 - train_share`` of the users (at most ``max_users``), half of each visible.

    Only items some training user played can be predicted, so held-out histories are
    restricted to them (as Liang et al. do); users left with fewer than 2 items are skipped.
    """
    _check_share(train_share)
    counts = sp.csr_matrix(counts)
    rng = np.random.default_rng(seed)
    n_users = counts.shape[0]
    eligible = np.flatnonzero(np.diff(counts.indptr) >= 2)
    wanted = min(max_users, round(n_users * (1 - train_share)), eligible.size)
    heldout = np.sort(rng.choice(eligible, size=wanted, replace=False)) if wanted else np.empty(0, np.int64)
    keep = np.ones(n_users, dtype=bool)
    keep[heldout] = False
    train = counts[keep]
    known = np.bincount(train.indices, minlength=counts.shape[1]) > 0
    users, visible, hidden = [], [], []
    for user in heldout:
        items = counts.indices[counts.indptr[user] : counts.indptr[user + 1]]
        items = items[known[items]]
        if items.size < 2:
            continue
        items = rng.permutation(items)
        n_visible = min(items.size - 1, max(1, math.floor(items.size * visible_share)))
        users.append(user)
        visible.append(np.sort(items[:n_visible]))
        hidden.append(np.sort(items[n_visible:]))
    return UsersSplit(train=train, users=np.asarray(users, dtype=np.int64), visible=visible, hidden=hidden)


# -- what held-out users are asked -----------------------------------------------------
@dataclass
class HeldOutCase:
    """One held-out user as the bot would be asked about them."""

    user: int  # row in the dataset's matrix
    seeds: np.ndarray  # item2item: the seed song; users: the visible half, folded in (/foryou); mix: two songs
    targets: np.ndarray  # their songs an answer should find
    weight: float = 1.0  # in averages: item2item's "all" seeds count 1 / the listener's songs each


def item2item_seeds(split: UsersSplit, seed: int) -> np.ndarray:
    """The seed song of each held-out user (one of their songs, drawn with ``seed``).

    The model, the baseline and every novelty-knob setting ask about the same seeds.
    """
    rng = np.random.default_rng(seed)
    seeds = np.empty(len(split.visible), dtype=np.int64)
    for position, (visible, hidden) in enumerate(zip(split.visible, split.hidden)):
        items = np.concatenate([visible, hidden])
        seeds[position] = items[rng.integers(items.size)]
    return seeds


# Which of a held-out listener's songs is the seed of an item2item case: the one they played
# most (ties: the lowest index), one drawn at random, or every one in turn (a case each).
SEED_CHOICES = ("most-played", "random", "all")
DEFAULT_SEED_CHOICE = "most-played"


def item2item_cases(
    split: UsersSplit,
    counts: sp.spmatrix,
    choice: str,
    seed: int,
    max_users: int | None = None,
    max_seeds: int | None = None,
) -> list[HeldOutCase]:
    """Item2item cases for the split's held-out users (at most ``max_users``, drawn with ``seed``):
    the seed song chosen by ``choice`` (``SEED_CHOICES``), the user's other songs the targets.

    ``counts`` is the matrix the split was made from (its rows are ``split.users``): the play
    counts that say which song a listener played most. "random" draws the seeds of
    :func:`item2item_seeds`; "all" gives one case per song of each user, in index order, each
    weighing 1 / their songs, so that every listener counts once in the averages (the average
    over "all" is the expectation over a random seed, without its draw). With ``max_seeds``, a
    listener with more songs than that gets that many of them, drawn with ``seed``, as "all"
    seeds (each weighing 1 / ``max_seeds``): the same expectation, estimated at a bounded cost.
    """
    if choice not in SEED_CHOICES:
        raise ConfigError(f"seed choice {choice!r} is not one of {', '.join(SEED_CHOICES)}")
    counts = sp.csr_matrix(counts)
    count = len(split.visible)
    positions = list(range(count))
    if max_users is not None and count > max_users:
        positions = np.sort(np.random.default_rng(seed).choice(count, max(int(max_users), 0), replace=False)).tolist()
    if max_seeds is not None and max_seeds < 1:
        raise ConfigError(f"at most {max_seeds} seeds per listener: it must be at least 1")
    drawn = item2item_seeds(split, seed) if choice == "random" else None
    some_seeds = np.random.default_rng(seed)
    cases = []
    for position in positions:
        items = np.sort(np.concatenate([split.visible[position], split.hidden[position]]))
        user = int(split.users[position])
        if choice == "all":
            seeds = items
            if max_seeds is not None and items.size > max_seeds:
                seeds = np.sort(some_seeds.choice(items, max_seeds, replace=False))
        elif choice == "random":
            seeds = np.asarray(drawn)[position : position + 1]
        else:
            start, end = counts.indptr[user], counts.indptr[user + 1]
            played = dict(zip(counts.indices[start:end].tolist(), counts.data[start:end].tolist()))
            plays = np.array([played.get(item, 0) for item in items.tolist()], dtype=np.float64)
            seeds = items[int(np.argmax(plays)) :][:1]
        weight = 1.0 / seeds.size
        for seed_item in seeds.tolist():
            cases.append(HeldOutCase(user, np.array([seed_item], dtype=np.int64), items[items != seed_item], weight))
    return cases


def held_out_cases(split: UsersSplit, protocol: str, seed: int, max_users: int) -> list[HeldOutCase]:
    """Cases for at most ``max_users`` of the split's held-out users, drawn with ``seed``:
    one seed song each ("item2item"), or the visible half of each history ("users").

    Item2item cases use the very seeds the model and baseline rows were scored on.
    """
    count = len(split.visible)
    wanted = min(max(int(max_users), 0), count)
    positions = np.sort(np.random.default_rng(seed).choice(count, size=wanted, replace=False)).tolist()
    if protocol != "item2item":
        return [HeldOutCase(int(split.users[p]), split.visible[p], split.hidden[p]) for p in positions]
    seeds = item2item_seeds(split, seed)
    cases = []
    for position in positions:
        items = np.concatenate([split.visible[position], split.hidden[position]])
        cases.append(
            HeldOutCase(
                user=int(split.users[position]),
                seeds=seeds[position : position + 1],
                targets=items[items != seeds[position]],
            )
        )
    return cases


def mix_cases(split: UsersSplit, seed: int, max_users: int | None = None) -> list[HeldOutCase]:
    """Held-out users with 3 or more songs: two of them (drawn with ``seed``) are the mix's
    seeds, the others what the mix should find."""
    rng = np.random.default_rng(seed)
    cases = []
    for user, visible, hidden in zip(split.users.tolist(), split.visible, split.hidden):
        items = np.concatenate([visible, hidden])
        if items.size <= MIX_SEEDS:
            continue
        chosen = rng.choice(items.size, MIX_SEEDS, replace=False)
        taken = np.zeros(items.size, dtype=bool)
        taken[chosen] = True
        cases.append(HeldOutCase(user=int(user), seeds=items[chosen], targets=items[~taken]))
    if max_users is not None and len(cases) > max_users:
        keep = np.sort(np.random.default_rng(seed).choice(len(cases), max_users, replace=False))
        cases = [cases[i] for i in keep.tolist()]
    return cases
