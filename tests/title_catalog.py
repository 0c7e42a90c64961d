"""A small hand-made catalog for the title search tests: what people type is checked against it.

Titles with versions, covers, featured artists, subtitles, accents and one very long title and
artist; listeners are chosen so that the original beats a cover and two "Halo"s are about as
popular.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.dataset import Dataset, write_dataset

LONG_TITLE = "A Very Long Title " + "That Keeps Going " * 8 + "(Extended Club Mix)"
LONG_ARTIST = "The Extremely Verbose Orchestra " * 4

# (title, artist, listeners). Covers have few listeners; two "Halo"s are about as popular.
CATALOG = [
    ("Hey Ya!", "OutKast", 900),
    ("Hey Ya! (Radio Mix)", "OutKast", 120),
    ("Hey Ya! - Live at Wembley", "OutKast", 30),
    ("Hey Ya", "Obadiah Parker", 25),
    ("Ms. Jackson", "OutKast", 500),
    ("Roses", "OutKast", 300),
    ("Crazy in Love (feat. Jay-Z)", "Beyoncé", 800),
    ("Crazy in Love", "Antony and the Johnsons", 40),
    ("Halo", "Beyoncé", 700),
    ("Halo", "Depeche Mode", 650),
    ("Hallo", "Some Band", 3),
    ("Smells Like Teen Spirit", "Nirvana", 1000),
    ("Smells Like Teen Spirit", "Tori Amos", 50),
    ("The Scientist", "Coldplay", 600),
    ("Yesterday", "The Beatles", 750),
    ("Hey Jude", "The Beatles", 800),
    ("Hey You", "Pink Floyd", 500),
    ("Heyday", "Mint Royale", 10),
    ("(I Can't Get No) Satisfaction", "The Rolling Stones", 500),
    ("Umbrella", "Rihanna feat. Jay-Z", 650),
    ("The Sound of Silence", "Simon & Garfunkel", 400),
    ("Señorita", "Justin Timberlake", 300),
    ("Don't Stop Me Now", "Queen", 700),
    ("Bohemian Rhapsody (Remastered 2011)", "Queen", 650),
    ("Bohemian Rhapsody", "Queen", 100),
    ("Rock 'n' Roll Star", "Oasis", 200),
    ("Mr. Brightside", "The Killers", 800),
    ("Wonderwall", "Oasis", 850),
    (LONG_TITLE, LONG_ARTIST, 5),
    ("Nobody Played This", "Unknown Artist", 0),
]


def make_dataset(root, rows, name="tiny") -> Dataset:
    """A dataset whose item i is played by exactly rows[i][2] users."""
    listeners = np.array([row[2] for row in rows], dtype=np.int64)
    n_users = max(1, int(listeners.max()))
    user_ids = np.concatenate([np.arange(count) for count in listeners]).astype(np.int64)
    item_ids = np.repeat(np.arange(len(rows)), listeners)
    matrix = sp.csr_matrix((np.ones(len(user_ids), dtype=np.float32), (user_ids, item_ids)), shape=(n_users, len(rows)))
    items = pd.DataFrame(
        {
            "item_id": [f"SO{i:04d}" for i in range(len(rows))],
            "title": [row[0] for row in rows],
            "artist": [row[1] for row in rows],
        }
    )
    write_dataset(root / name, name=name, interactions=matrix, items=items, user_ids=[f"u{u}" for u in range(n_users)])
    return Dataset.load(root / name)


def index_of(title: str, artist: str) -> int:
    return next(i for i, row in enumerate(CATALOG) if row[0] == title and row[1] == artist)
