"""Typed configuration: one dataclass per concern, layered from files and the environment.

Order, later wins: ``config.toml`` < ``config.local.toml`` (git-ignored) < environment
variables named ``SOUNDALIKE_<SECTION>__<KEY>``. Every key is checked against its
section's declared type, so a typo or a wrong type fails at start with the key named.
Secrets (the Discord token) are deliberately not part of this file's world.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import tomllib
import typing
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .feedback.backends import database_problem, location_of

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "SOUNDALIKE_"


@dataclass(frozen=True)
class DataConfig:
    root: str = "data"
    default_dataset: str = "demo"


# Allowed values of [training] algorithm and weighting (also the CLI's choices).
ALGORITHMS = ("als", "bm25", "bpr", "cosine", "lmf")
WEIGHTINGS = ("raw", "log", "bm25")
# Allowed values of [training] engine: implicit on this machine, or Apache Spark's ALS
# (recommender.spark) on the cluster [training] spark_master names.
ENGINES = ("implicit", "spark")


@dataclass(frozen=True)
class TrainParams:
    """The ``[training]`` section: everything that decides a trained model, validated.

    One definition for the configuration, the ``train``/``evaluate`` overrides and a model's
    manifest (its "parameters", read back with :meth:`from_dict`).
    """

    algorithm: str = "als"
    weighting: str = "bm25"
    factors: int = 32
    iterations: int = 15
    regularization: float = 1.0
    alpha: float = 0.5
    learning_rate: float = 0.05
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    neighbours: int = 100
    random_state: int = 1
    threads: int = 0
    engine: str = "implicit"
    # Where a Spark engine runs: local[N] (threads here), spark://host:7077 (standalone), yarn.
    # Where it ran is recorded in a model's manifest under "training", not as a parameter.
    spark_master: str = "local[*]"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"training algorithm {self.algorithm!r} is not one of {', '.join(ALGORITHMS)}")
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"training weighting {self.weighting!r} is not one of {', '.join(WEIGHTINGS)}")
        for name in ("factors", "iterations", "neighbours"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"training {name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("regularization", "alpha", "learning_rate", "bm25_k1", "bm25_b", "threads"):
            if getattr(self, name) < 0:
                raise ConfigError(f"training {name} must not be negative, got {getattr(self, name)!r}")
        if self.alpha == 0:
            raise ConfigError("training alpha must be above 0 (it multiplies every confidence)")
        if self.engine not in ENGINES:
            raise ConfigError(f"training engine {self.engine!r} is not one of {', '.join(ENGINES)}")
        if self.engine == "spark" and self.algorithm != "als":
            raise ConfigError(f"the spark engine trains als only, not {self.algorithm!r}: use engine implicit for it")
        if not self.spark_master.strip():
            raise ConfigError("training spark_master is empty: use local[2], spark://host:7077 or yarn")

    @classmethod
    def from_dict(cls, values: dict) -> TrainParams:
        """Build from a manifest's dict; keys this version does not know are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {}
        for name, value in values.items():
            if name not in known or value is None:
                continue
            default = getattr(cls, name)
            kwargs[name] = type(default)(value)
        return cls(**kwargs)

    def replace(self, **changes: Any) -> TrainParams:
        """A copy with the given values; a None value keeps the current one (an option not given)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        del values["spark_master"]  # where it ran, not what was fitted (the manifest's "training" says)
        return values

    def relevant(self) -> dict:
        """The parameters that change this algorithm's result (for summaries)."""
        names = {
            "als": ("weighting", "factors", "iterations", "regularization", "alpha"),
            "bpr": ("factors", "iterations", "regularization", "learning_rate"),
            "lmf": ("weighting", "factors", "iterations", "regularization", "learning_rate"),
            "cosine": ("weighting", "neighbours"),
            "bm25": ("weighting", "neighbours", "bm25_k1", "bm25_b"),
        }[self.algorithm]
        chosen = {name: getattr(self, name) for name in names}
        if self.weighting == "bm25" and self.algorithm != "bm25" and "weighting" in names:
            chosen.update(bm25_k1=self.bm25_k1, bm25_b=self.bm25_b)
        return chosen

    def describe(self) -> str:
        engine = f" on {self.engine}" if self.engine != "implicit" else ""
        return f"{self.algorithm}{engine} (" + ", ".join(f"{k} {v}" for k, v in self.relevant().items()) + ")"


@dataclass(frozen=True)
class EvaluationConfig:
    protocol: str = "holdout"
    k: int = 10
    random_state: int = 1
    train_share: float = 0.8


@dataclass(frozen=True)
class ServingConfig:
    min_listeners: int = 1
    default_count: int = 5
    novelty: str = "balanced"
    per_artist_cap: int = 2
    index: str = "auto"
    # Seconds between looks at the model store's `current` pointer: a model published by
    # another process (a /retrain elsewhere, the command line) is served within this; 0: never.
    watch_model_seconds: float = 2.0


@dataclass(frozen=True)
class BotConfig:
    dev_guild_ids: list[int] = field(default_factory=list)
    admin_role_ids: list[int] = field(default_factory=list)
    admin_user_ids: list[int] = field(default_factory=list)
    # How many songs an answer holds by default is [serving] default_count (one key for the
    # CLI, the console and the bot); the bot's and console's upper limit is this.
    max_results: int = 10
    cooldown_seconds: float = 3.0
    per_guild_concurrency: int = 4
    max_queue: int = 2000
    feedback_weight: float = 5.0
    promotion_tolerance: float = 0.005
    # The feedback log: a SQLite file (relative to the config's folder), or a PostgreSQL
    # database several bot processes share: "postgresql://user@host:5432/dbname".
    database: str = "data/soundalike.sqlite3"
    # Questions older than this many days are erased with their answers and ratings; 0 keeps them.
    retention_days: int = 365


@dataclass(frozen=True)
class ListenBrainzConfig:
    """The ``[listenbrainz]`` section: members' own listening, read from ListenBrainz's public API."""

    # The API root (the production one by default); tests point it at a fake on 127.0.0.1.
    api_url: str = "https://api.listenbrainz.org"
    # A contact (URL or e-mail) for the User-Agent ListenBrainz asks every client to send.
    contact: str = ""
    # How many of a member's most recent listens /foryou reads (ListenBrainz answers at most 1,000).
    listens: int = 100
    # How long fetched listens are kept in memory (never on disk) before they are read again.
    cache_seconds: float = 600.0
    # Seconds one request may take, and all tries of one question together.
    timeout_seconds: float = 5.0
    total_seconds: float = 12.0
    # Tries of one request (a 429, a 5xx or a timeout is tried again, within total_seconds).
    attempts: int = 3
    # ListenBrainz asks each client for at most one call per second.
    min_interval_seconds: float = 1.0
    # Servers whose linked members' listens become training rows at /retrain (opt-in per server).
    train_from_linked: list[int] = field(default_factory=list)


# Allowed values for string keys that are really enumerations.
CHOICES = {
    ("training", "algorithm"): set(ALGORITHMS),
    ("training", "weighting"): set(WEIGHTINGS),
    ("training", "engine"): set(ENGINES),
    ("evaluation", "protocol"): {"holdout", "users", "item2item"},
    ("serving", "novelty"): {"popular", "balanced", "deep"},
    ("serving", "index"): {"brute", "ann", "auto"},
}

# The sensible range of every number, inclusive; ``None`` leaves that side open. A value
# outside it (or NaN / infinity) is refused at start with the key named, rather than
# crashing later (retention_days = 1000000 overflowed a date) or silently doing nothing
# (cooldown_seconds = nan disabled the cooldown).
DISCORD_SNOWFLAKE_MAX = 2**64 - 1
RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("training", "factors"): (1, 4096),
    ("training", "iterations"): (1, 10_000),
    ("training", "regularization"): (0, 1e6),
    ("training", "alpha"): (1e-9, 1e6),
    ("training", "learning_rate"): (1e-9, 10),
    ("training", "bm25_k1"): (0, 100),
    ("training", "bm25_b"): (0, 1),
    ("training", "neighbours"): (1, 100_000),
    ("training", "random_state"): (0, 2**32 - 1),
    ("training", "threads"): (0, 1024),
    ("evaluation", "k"): (1, 10_000),
    ("evaluation", "random_state"): (0, 2**32 - 1),
    ("evaluation", "train_share"): (0.01, 0.99),
    ("serving", "min_listeners"): (0, 10**9),
    ("serving", "default_count"): (1, 25),
    ("serving", "per_artist_cap"): (0, 25),
    ("serving", "watch_model_seconds"): (0, 3600),
    ("bot", "dev_guild_ids"): (1, DISCORD_SNOWFLAKE_MAX),
    ("bot", "admin_role_ids"): (1, DISCORD_SNOWFLAKE_MAX),
    ("bot", "admin_user_ids"): (1, DISCORD_SNOWFLAKE_MAX),
    ("bot", "max_results"): (1, 25),  # Discord shows at most 25 buttons/fields in one answer
    ("bot", "cooldown_seconds"): (0, 86_400),
    ("bot", "per_guild_concurrency"): (1, 1000),
    ("bot", "max_queue"): (0, 100_000),
    ("bot", "feedback_weight"): (1e-9, 1e6),
    ("bot", "promotion_tolerance"): (0, 1),
    ("bot", "retention_days"): (0, 36_500),  # 100 years; 0 keeps everything
    ("listenbrainz", "listens"): (1, 1000),  # MAX_ITEMS_PER_GET of ListenBrainz's API
    ("listenbrainz", "cache_seconds"): (0, 86_400),
    ("listenbrainz", "timeout_seconds"): (0.01, 120),
    ("listenbrainz", "total_seconds"): (0.01, 600),
    ("listenbrainz", "attempts"): (1, 10),
    ("listenbrainz", "min_interval_seconds"): (0, 60),
    ("listenbrainz", "train_from_linked"): (1, DISCORD_SNOWFLAKE_MAX),
}
# Keys that were merged into another: (old section, old key) -> (new section, new key).
RENAMED = {
    ("bot", "default_results"): ("serving", "default_count"),
}


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainParams = field(default_factory=TrainParams)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    bot: BotConfig = field(default_factory=BotConfig)
    listenbrainz: ListenBrainzConfig = field(default_factory=ListenBrainzConfig)
    # Folder that relative paths in the config are resolved against.
    base_dir: Path = PROJECT_ROOT

    def resolve_path(self, value: str | Path) -> Path:
        path = Path(value)
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def data_root(self) -> Path:
        return self.resolve_path(self.data.root)

    @property
    def datasets_dir(self) -> Path:
        return self.data_root / "datasets"

    @property
    def models_dir(self) -> Path:
        return self.data_root / "models"

    @property
    def database_path(self) -> Path:
        """The SQLite file of the log; a log on PostgreSQL has none (see database_location)."""
        location = self.database_location
        if not isinstance(location, Path):
            raise ConfigError("[bot] database is a PostgreSQL URL, not a file: use Config.database_location")
        return location

    @property
    def database_location(self) -> Path | str:
        """The feedback log: its SQLite file, or the ``postgresql://`` URL as configured."""
        return location_of(self.bot.database, self.base_dir)


SECTIONS = {f.name: f.type for f in dataclasses.fields(Config) if f.name != "base_dir"}


def _section_class(name: str) -> type:
    hints = typing.get_type_hints(Config)
    return hints[name]


def _coerce(section: str, key: str, value: object, annotation: Any, source: str) -> object:
    """Check ``value`` against the declared type; env strings are parsed first."""
    where = f"{source}: [{section}] {key}"
    if isinstance(value, str) and source.startswith("environment"):
        if annotation is str:
            pass
        else:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(f"{where}: cannot parse {value!r} as {annotation}") from None
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list) or not all(isinstance(v, item_type) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where}: expected a list of {item_type.__name__}, got {value!r}")
        _check_range(section, key, list(value), where)
        return list(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if annotation in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
    if not isinstance(value, annotation):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {type(value).__name__} {value!r}")
    allowed = CHOICES.get((section, key))
    if allowed is not None and value not in allowed:
        raise ConfigError(f"{where}: {value!r} is not one of {sorted(allowed)}")
    if (section, key) == ("bot", "database") and isinstance(value, str):
        problem = database_problem(value)
        if problem is not None:  # the value is not repeated: a URL may hold a password
            raise ConfigError(f"{where} {problem}")
    _check_range(section, key, value if isinstance(value, list) else [value], where)
    return value


def _check_range(section: str, key: str, values: list, where: str) -> None:
    low, high = RANGES.get((section, key), (0, None))
    for value in values:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: must be a finite number, got {value!r}")
        if low is not None and value < low:
            raise ConfigError(f"{where}: {value!r} is below {_bound(low)}" + _span(low, high))
        if high is not None and value > high:
            raise ConfigError(f"{where}: {value!r} is above {_bound(high)}" + _span(low, high))


def _bound(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _span(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" (allowed: {_bound(low)} to {_bound(high)})"
    return ""


def _merge(layers: dict[str, dict[str, object]], raw: dict, source: str) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected tables of settings")
    for section, values in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}] (known: {', '.join(SECTIONS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        cls = _section_class(section)
        hints = typing.get_type_hints(cls)
        for key, value in values.items():
            if (section, key) in RENAMED:
                _migrate(layers, section, key, value, source, raw)
                continue
            if key not in hints:
                raise ConfigError(f"{source}: unknown key [{section}] {key} (known: {', '.join(hints)})")
            layers.setdefault(section, {})[key] = _coerce(section, key, value, hints[key], source)


def _migrate(
    layers: dict[str, dict[str, object]], section: str, key: str, value: object, source: str, raw: dict
) -> None:
    """An old key still in a config: its value goes to the new key, with one warning saying so.

    The same layer setting both to different values is an error (which one was meant?).
    """
    new_section, new_key = RENAMED[(section, key)]
    hints = typing.get_type_hints(_section_class(new_section))
    value = _coerce(new_section, new_key, value, hints[new_key], source)
    given_section = raw.get(new_section)
    both = given_section if isinstance(given_section, dict) else {}
    if new_key in both:
        given = _coerce(new_section, new_key, both[new_key], hints[new_key], source)
        if given != value:
            raise ConfigError(
                f"{source}: [{section}] {key} = {value!r} and [{new_section}] {new_key} = {given!r} are the "
                f"same setting; keep only [{new_section}] {new_key}"
            )
    layers.setdefault(new_section, {})[new_key] = value
    log.warning(
        "%s: [%s] %s is now [%s] %s (one setting for the CLI, the console and the bot); using %r "
        "from it: rename the key",
        source,
        section,
        key,
        new_section,
        new_key,
        value,
    )


def _check_together(config: Config) -> None:
    """Rules that involve two keys."""
    serving, bot = config.serving, config.bot
    if serving.default_count > bot.max_results:
        raise ConfigError(
            f"[serving] default_count {serving.default_count} is above [bot] max_results "
            f"{bot.max_results}: answers could not hold it"
        )
    listenbrainz = config.listenbrainz
    problem = api_url_problem(listenbrainz.api_url)
    if problem:
        raise ConfigError(f"[listenbrainz] api_url {listenbrainz.api_url!r}: {problem}")
    if listenbrainz.timeout_seconds > listenbrainz.total_seconds:
        raise ConfigError(
            f"[listenbrainz] timeout_seconds {listenbrainz.timeout_seconds:g} is above total_seconds "
            f"{listenbrainz.total_seconds:g}: one request could never take its own time"
        )


def api_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an API root (an http(s) URL with a host, no query), or None."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https"):
        return "it must start with https:// (or http:// for a server on this machine)"
    if not parsed.hostname:
        return "it names no host"
    if parsed.query or parsed.fragment:
        return "it must not hold a query or a fragment"
    return None


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_config(path: str | Path | None = None, environ: typing.Mapping[str, str] | None = None) -> Config:
    """Load ``config.toml`` (or ``path``), then ``config.local.toml`` beside it, then env."""
    main = Path(path) if path is not None else PROJECT_ROOT / "config.toml"
    environ = os.environ if environ is None else environ
    layers: dict[str, dict[str, object]] = {}
    if main.exists():
        _merge(layers, _read_toml(main), str(main))
    elif path is not None:
        raise ConfigError(f"{main}: config file not found")
    local = main.with_name("config.local.toml")
    if local.exists():
        _merge(layers, _read_toml(local), str(local))
    env_raw: dict[str, dict[str, object]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        env_raw.setdefault(section, {})[key] = value
    if env_raw:
        _merge(layers, env_raw, f"environment ({ENV_PREFIX}<SECTION>__<KEY>)")
    sections = {name: _section_class(name)(**layers.get(name, {})) for name in SECTIONS}
    config = Config(**sections, base_dir=main.resolve().parent)
    _check_together(config)
    return config
