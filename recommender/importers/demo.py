"""The demo dataset: synthetic listeners over real songs (``python -m recommender data demo``).

The songs are real (``data/demo/catalog.csv``: title, artist, genre, year); the listening is
made up, with a structure a recommender can find and a person can check by ear:

- each listener has one to three favourite genres (a mixture, the first weighing most; a
  second genre is more often a related one, so hip hop fans also play r&b and pop), and a
  preferred era: a window of some years around a year typical of their first genre;
- within a genre, songs are drawn with a Zipf-like popularity prior (catalog order within the
  genre is the fame order, jittered per seed), shaded by the listener's era;
- about a tenth of each history is exploration across the whole catalog;
- history lengths run from 3 to 150 songs with a heavy tail, and play counts are heavy-tailed
  integers >= 1 (more for a listener's favourites and for busier listeners).

A few songs (about one in twenty, chosen from the title and artist so the choice never
depends on the seed, and always "Hey Ya!") also get made-up versions, "Hey Ya! (Radio Edit)"
and the like, with their own item ids and a small share of the original's listeners. That
gives the version handling something to merge.

The listeners are drawn from ``numpy.random.Generator(seed)`` in a fixed order, in blocks
of users so memory stays bounded, and the versions from a second generator seeded from the
same seed, so a seed always gives the same dataset (the same fingerprint). The default 6,000
listeners take about a second to build.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..config import PROJECT_ROOT
from ..dataset import write_dataset
from ..errors import DataError

CATALOG_PATH = PROJECT_ROOT / "data" / "demo" / "catalog.csv"
CATALOG_COLUMNS = ("title", "artist", "genre", "year")
YEAR_RANGE = (1900, 2100)

DEFAULT_NAME = "demo"
DEFAULT_USERS = 6000
DEFAULT_SEED = 1
MAX_USERS = 1_000_000
ITEM_ID_PREFIX = "DEMO"

# -- the listener model (see the module docstring) ---------------------------------------
# Relative audience of each genre; a genre not named here weighs 1.
GENRE_AUDIENCE = {
    "pop": 1.6,
    "rock": 1.5,
    "hip hop": 1.5,
    "r&b": 1.2,
    "indie": 1.2,
    "electronic": 1.1,
    "metal": 0.9,
    "country": 0.9,
    "latin": 0.9,
    "k-pop": 0.8,
    "punk": 0.8,
    "soul": 0.8,
    "funk/disco": 0.8,
    "folk": 0.7,
    "reggae": 0.6,
    "jazz": 0.6,
    "blues": 0.5,
}
# Pairs of genres that often share listeners: a second favourite genre is this many times
# more likely to be related to the first than not.
RELATED_GENRES = [
    ("hip hop", "r&b"),
    ("hip hop", "pop"),
    ("r&b", "pop"),
    ("r&b", "soul"),
    ("pop", "k-pop"),
    ("pop", "electronic"),
    ("pop", "latin"),
    ("rock", "metal"),
    ("rock", "punk"),
    ("rock", "indie"),
    ("rock", "blues"),
    ("indie", "folk"),
    ("indie", "electronic"),
    ("metal", "punk"),
    ("soul", "funk/disco"),
    ("soul", "blues"),
    ("jazz", "blues"),
    ("jazz", "soul"),
    ("country", "folk"),
    ("reggae", "latin"),
    ("reggae", "hip hop"),
]
RELATED_AFFINITY = 3.0
FAVOURITE_GENRE_COUNT_ODDS = (0.35, 0.40, 0.25)  # one, two, three favourite genres
PRIMARY_GENRE_SHAPE, OTHER_GENRE_SHAPE = 3.0, 1.5  # gamma shapes of the mixture weights
ZIPF_EXPONENT = 1.1  # popularity of the r-th song of a genre ~ 1 / r**ZIPF_EXPONENT
POPULARITY_JITTER = 0.35  # lognormal sigma: each seed reshuffles fame a little
ERA_CENTER_SPREAD = 3.0  # years of noise around the anchor song's year
ERA_WIDTH_YEARS = (5.0, 12.0)  # a listener's era is a Gaussian window this wide (sigma)
ERA_FLOOR = 0.05  # songs outside the era keep this much of their weight
EXPLORATION = 0.10  # share of a history drawn from the whole catalog
HISTORY_MEDIAN, HISTORY_SIGMA, HISTORY_RANGE = 18.0, 0.9, (3, 150)
PLAYS_LOG_MEAN, PLAYS_LOG_SIGMA = 0.3, 1.0  # plays of one song by one listener
ACTIVITY_SIGMA = 0.6  # some listeners simply play more
FAVOURITE_BOOST, FAVOURITE_DECAY = 2.0, 4.0  # a listener's top songs get up to 3x the plays
MAX_PLAYS = 5000
USER_BLOCK = 2048  # users drawn per block: bounds memory to a few blocks x catalog floats

# -- made-up versions ---------------------------------------------------------------------
VERSION_EVERY = 20  # about one song in twenty gets a version
VERSION_LABELS = ("(Live)", "(Radio Edit)", "(Remastered)", "(Acoustic Version)", "(Single Version)")
REMASTER_YEARS = (2009, 2011, 2015, 2019)
# Songs that always get these versions, so demos and tests can count on them.
FEATURED_VERSIONS = {
    ("Hey Ya!", "OutKast"): ("(Radio Edit)", "(Live)"),
    ("Crazy in Love", "Beyoncé"): ("(feat. Jay-Z)",),
}
VERSION_LISTENER_SHARE = (0.15, 0.35)  # share of the original's listeners who also play it
VERSION_PLAY_SHARE = (0.1, 0.5)  # their plays of the version, relative to the original


# -- the catalog ---------------------------------------------------------------------------
def read_catalog(path: str | Path = CATALOG_PATH) -> pd.DataFrame:
    """Read and check the demo catalog; a bad row raises :class:`DataError` naming its line."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise DataError("demo catalog not found", path=path) from None
    rows: list[tuple[str, str, str, int]] = []
    first_line: dict[tuple[str, str], int] = {}
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or tuple(header) != CATALOG_COLUMNS:
                raise DataError(f"header must be {','.join(CATALOG_COLUMNS)}, got {header!r}", path=path, line=1)
            for fields in reader:
                line = reader.line_num
                if not fields:
                    continue
                rows.append(_check_row(fields, path, line))
                key = (rows[-1][0].casefold(), rows[-1][1].casefold())
                if key in first_line:
                    raise DataError(
                        f"{rows[-1][0]!r} by {rows[-1][1]!r} repeats line {first_line[key]}", path=path, line=line
                    )
                first_line[key] = line
        except UnicodeDecodeError as error:
            raise DataError(f"not UTF-8 ({error.reason})", path=path) from None
        except csv.Error as error:
            raise DataError(f"malformed CSV: {error}", path=path, line=reader.line_num) from None
    if not rows:
        raise DataError("no songs in the demo catalog", path=path)
    catalog = pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))
    catalog["year"] = catalog["year"].astype(np.int64)
    return catalog


def _check_row(fields: list[str], path: Path, line: int) -> tuple[str, str, str, int]:
    if len(fields) != len(CATALOG_COLUMNS):
        raise DataError(
            f"expected {len(CATALOG_COLUMNS)} fields ({','.join(CATALOG_COLUMNS)}), got {len(fields)}",
            path=path,
            line=line,
        )
    for column, value in zip(CATALOG_COLUMNS, fields):
        if not value.strip():
            raise DataError(f"empty {column}", path=path, line=line)
        if value != value.strip():
            raise DataError(f"{column} {value!r} has leading or trailing spaces", path=path, line=line)
    title, artist, genre, year_text = fields
    if not year_text.isdigit() or not YEAR_RANGE[0] <= int(year_text) <= YEAR_RANGE[1]:
        raise DataError(
            f"year {year_text!r} is not a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}", path=path, line=line
        )
    return title, artist, genre, int(year_text)


# -- items: the catalog plus made-up versions ----------------------------------------------
def _stable_hash(title: str, artist: str) -> int:
    """A hash of the song that does not change between runs or Python versions."""
    digest = hashlib.blake2b(f"{title}\x1f{artist}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _version_labels(title: str, artist: str, year: int) -> tuple[str, ...]:
    """The made-up versions a catalog song gets: usually none."""
    if (title, artist) in FEATURED_VERSIONS:
        return FEATURED_VERSIONS[(title, artist)]
    digest = _stable_hash(title, artist)
    if digest % VERSION_EVERY:
        return ()
    label = VERSION_LABELS[(digest // VERSION_EVERY) % len(VERSION_LABELS)]
    if label == "(Remastered)":
        later = [y for y in REMASTER_YEARS if y >= year + 10]
        label = f"(Remastered {later[0]})" if later else "(Live)"
    return (label,)


def demo_items(catalog: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Items (catalog rows in order, then versions) and, per item, the row it is a version of.

    Item ids follow the catalog row: ``DEMO0001`` is the first song, ``DEMO0001-V1`` its
    first made-up version. ``version_of`` is -1 for catalog songs.
    """
    width = max(4, len(str(len(catalog))))
    ids = [f"{ITEM_ID_PREFIX}{row + 1:0{width}d}" for row in range(len(catalog))]
    items = catalog.assign(item_id=ids)[["item_id", *CATALOG_COLUMNS]]
    versions = []
    for row, (title, artist, genre, year) in enumerate(
        catalog[list(CATALOG_COLUMNS)].itertuples(index=False, name=None)
    ):
        for number, label in enumerate(_version_labels(title, artist, year), start=1):
            versions.append((f"{ids[row]}-V{number}", f"{title} {label}", artist, genre, year, row))
    version_rows = pd.DataFrame(versions, columns=["item_id", *CATALOG_COLUMNS, "version_of"])
    version_of = np.concatenate(
        [np.full(len(catalog), -1, dtype=np.int64), version_rows["version_of"].to_numpy(dtype=np.int64)]
    )
    items = pd.concat([items, version_rows.drop(columns="version_of")], ignore_index=True)
    items["year"] = items["year"].astype(np.int64)
    return items, version_of


# -- the listeners -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Listeners:
    """Per-listener taste parameters, drawn for everyone before any song is drawn."""

    genre_weights: np.ndarray  # users x genres, rows sum to 1 over favourite genres
    era_center: np.ndarray  # users
    era_width: np.ndarray  # users
    history: np.ndarray  # users: number of distinct songs
    activity: np.ndarray  # users: play-count multiplier


def _rank_in_genre(song_genre: np.ndarray) -> np.ndarray:
    """0 for the first song of each genre in catalog order, 1 for the second, ..."""
    return pd.Series(song_genre).groupby(song_genre).cumcount().to_numpy()


def _gumbel_top(log_weights: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Per row, ``count`` column indices drawn without replacement ~ exp(log_weights), in draw order.

    Adding Gumbel noise and keeping the largest keys is the same as drawing one by one
    without replacement, and it vectorises.
    """
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    top = np.argpartition(-keys, count - 1, axis=1)[:, :count]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def _draw_listeners(
    genre_names: np.ndarray,
    song_genre: np.ndarray,
    years: np.ndarray,
    popularity_in_genre: np.ndarray,
    users: int,
    rng: np.random.Generator,
) -> _Listeners:
    n_genres = len(genre_names)
    audience = np.array([GENRE_AUDIENCE.get(name, 1.0) for name in genre_names])
    index = {name: position for position, name in enumerate(genre_names)}
    affinity = np.ones((n_genres, n_genres))
    for first, second in RELATED_GENRES:
        if first in index and second in index:
            affinity[index[first], index[second]] = affinity[index[second], index[first]] = RELATED_AFFINITY

    primary = rng.choice(n_genres, size=users, p=audience / audience.sum())
    favourite_count = rng.choice(np.arange(1, 4), size=users, p=FAVOURITE_GENRE_COUNT_ODDS)
    favourite_count = np.minimum(favourite_count, n_genres)
    others = audience[None, :] * affinity[primary]
    others[np.arange(users), primary] = 0.0
    favourites = np.zeros((users, n_genres), dtype=bool)
    favourites[np.arange(users), primary] = True
    if n_genres > 1:
        with np.errstate(divide="ignore"):
            extra = _gumbel_top(np.log(others), min(2, n_genres - 1), rng)
        for slot in range(extra.shape[1]):
            chosen = favourite_count > slot + 1
            favourites[np.flatnonzero(chosen), extra[chosen, slot]] = True
    shape = np.where(favourites, OTHER_GENRE_SHAPE, 0.0)
    shape[np.arange(users), primary] = PRIMARY_GENRE_SHAPE
    weights = np.where(favourites, rng.gamma(np.maximum(shape, 1e-9)), 0.0)
    weights /= weights.sum(axis=1, keepdims=True)

    # The era centres on the year of a song drawn from the first genre by popularity. In
    # genre-sorted order the per-genre popularities each sum to 1, so genre g's songs fill
    # [g, g + 1) of the running total and one search finds the song.
    by_genre = np.argsort(song_genre, kind="stable")
    running = np.cumsum(popularity_in_genre[by_genre])
    position = np.searchsorted(running, primary + rng.random(users), side="right")
    anchor = by_genre[np.minimum(position, len(by_genre) - 1)]
    era_center = years[anchor] + rng.normal(0.0, ERA_CENTER_SPREAD, users)
    era_width = rng.uniform(*ERA_WIDTH_YEARS, users)

    low, high = HISTORY_RANGE
    history = np.rint(rng.lognormal(np.log(HISTORY_MEDIAN), HISTORY_SIGMA, users)).astype(np.int64)
    history = np.clip(history, low, min(high, len(years)))
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, users)
    return _Listeners(weights, era_center, era_width, history, activity)


def simulate_plays(genres: np.ndarray, years: np.ndarray, users: int, seed: int) -> sp.csr_matrix:
    """Users x songs play counts for catalog songs with these genres and years."""
    rng = np.random.default_rng(seed)
    genres = np.asarray(genres).astype(str)
    years = np.asarray(years, dtype=np.float64)
    genre_names, song_genre = np.unique(genres, return_inverse=True)
    n_songs, n_genres = len(genres), len(genre_names)

    popularity = (_rank_in_genre(song_genre) + 1.0) ** -ZIPF_EXPONENT
    popularity *= rng.lognormal(0.0, POPULARITY_JITTER, n_songs)
    popularity_in_genre = popularity / np.bincount(song_genre, weights=popularity)[song_genre]
    audience = np.array([GENRE_AUDIENCE.get(name, 1.0) for name in genre_names])
    exploration = popularity_in_genre * audience[song_genre]
    exploration /= exploration.sum()
    genre_onehot = sp.csr_matrix((np.ones(n_songs), (np.arange(n_songs), song_genre)), shape=(n_songs, n_genres))

    listeners = _draw_listeners(genre_names, song_genre, years, popularity_in_genre, users, rng)
    row_blocks: list[np.ndarray] = []
    col_blocks: list[np.ndarray] = []
    rank_blocks: list[np.ndarray] = []
    for start in range(0, users, USER_BLOCK):
        block = slice(start, min(start + USER_BLOCK, users))
        distance = (years[None, :] - listeners.era_center[block, None]) / listeners.era_width[block, None]
        weight = popularity_in_genre[None, :] * (np.exp(-0.5 * distance**2) + ERA_FLOOR)
        # Era shading moves weight within a genre, never between genres: renormalise per
        # genre, then mix the genres by the listener's weights.
        per_genre = np.asarray(genre_onehot.T.dot(weight.T).T)
        taste = weight / per_genre[:, song_genre] * listeners.genre_weights[block][:, song_genre]
        chance = (1.0 - EXPLORATION) * taste + EXPLORATION * exploration[None, :]
        history = listeners.history[block]
        drawn = _gumbel_top(np.log(chance), int(history.max()), rng)
        keep = np.arange(drawn.shape[1])[None, :] < history[:, None]
        row_blocks.append(np.nonzero(keep)[0] + start)
        col_blocks.append(drawn[keep])
        rank_blocks.append(np.nonzero(keep)[1])
    rows, cols, ranks = np.concatenate(row_blocks), np.concatenate(col_blocks), np.concatenate(rank_blocks)

    favourite = 1.0 + FAVOURITE_BOOST * np.exp(-ranks / FAVOURITE_DECAY)
    plays = rng.lognormal(PLAYS_LOG_MEAN, PLAYS_LOG_SIGMA, len(rows)) * listeners.activity[rows] * favourite
    plays = np.clip(np.rint(plays), 1, MAX_PLAYS)
    return sp.csr_matrix((plays.astype(np.float32), (rows, cols)), shape=(users, n_songs))


def add_version_plays(plays: sp.csr_matrix, version_of: np.ndarray, seed: int) -> sp.csr_matrix:
    """Extend song plays with one column per version: some of the original's listeners, fewer plays."""
    # A generator of its own, so adding versions never shifts the listeners' draws.
    rng = np.random.default_rng([seed, 1])
    originals = version_of[version_of >= 0]
    by_song = plays.tocsc()
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for offset, song in enumerate(originals):
        listeners = by_song.indices[by_song.indptr[song] : by_song.indptr[song + 1]]
        counts = by_song.data[by_song.indptr[song] : by_song.indptr[song + 1]]
        chosen = rng.random(len(listeners)) < rng.uniform(*VERSION_LISTENER_SHARE)
        if len(listeners) and not chosen.any():
            chosen[np.argmax(counts)] = True  # a version nobody plays could never be found
        share = rng.uniform(*VERSION_PLAY_SHARE)
        rows.append(listeners[chosen])
        cols.append(np.full(int(chosen.sum()), plays.shape[1] + offset))
        values.append(np.maximum(1.0, np.rint(counts[chosen] * share)))
    extra = sp.csr_matrix(
        (
            _joined(values).astype(np.float32),
            (_joined(rows).astype(np.int64), _joined(cols).astype(np.int64)),
        ),
        shape=(plays.shape[0], plays.shape[1] + len(originals)),
    )
    padded = sp.csr_matrix((plays.data, plays.indices, plays.indptr), shape=extra.shape)
    return (padded + extra).tocsr()


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass(frozen=True)
class DemoData:
    items: pd.DataFrame  # item_id, title, artist, genre, year
    interactions: sp.csr_matrix  # users x items play counts
    user_ids: np.ndarray
    version_of: np.ndarray  # per item: catalog row it is a version of, -1 for catalog songs


def generate_demo(catalog: pd.DataFrame, users: int = DEFAULT_USERS, seed: int = DEFAULT_SEED) -> DemoData:
    """The demo data in memory: same catalog, users and seed give the same arrays."""
    if users < 1:
        raise ValueError(f"users must be at least 1, got {users}")
    items, version_of = demo_items(catalog)
    plays = simulate_plays(catalog["genre"].to_numpy(), catalog["year"].to_numpy(), users, seed)
    interactions = add_version_plays(plays, version_of, seed)
    user_ids = np.array([f"demo-user-{number:07d}" for number in range(1, users + 1)], dtype=object)
    return DemoData(items, interactions, user_ids, version_of)


def build_demo_dataset(
    dest: str | Path,
    *,
    name: str = DEFAULT_NAME,
    users: int = DEFAULT_USERS,
    seed: int = DEFAULT_SEED,
    catalog_path: str | Path = CATALOG_PATH,
) -> Path:
    """Generate the demo and write it to ``dest`` atomically; returns ``dest``."""
    catalog_path = Path(catalog_path)
    catalog = read_catalog(catalog_path)
    data = generate_demo(catalog, users=users, seed=seed)
    try:
        shown_path = str(catalog_path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        shown_path = str(catalog_path.resolve())
    source = {
        "kind": "synthetic",
        "description": "real songs from the demo catalog; the listeners and their plays are "
        "synthetic (genre and era tastes, popularity skew), not real listening data",
        "generator": __name__,
        "catalog": shown_path,
        "catalog_sha256": hashlib.sha256(catalog_path.read_bytes()).hexdigest(),
        "catalog_songs": len(catalog),
        "versions": int((data.version_of >= 0).sum()),
        "users": users,
        "seed": seed,
    }
    return write_dataset(
        dest, name=name, interactions=data.interactions, items=data.items, user_ids=data.user_ids, source=source
    )
