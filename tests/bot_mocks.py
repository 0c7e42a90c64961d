"""Mocks for cog unit tests, built from real discord.py types with ``spec_set``.

Like python-discord's tests/helpers.py: every mock refuses attributes the real class does not
have, so a typo in a cog (``interaction.respnse``) fails the test instead of passing silently.
``FakeService`` is a tiny stand-in with the SoundalikeService methods the bot calls.
"""

from __future__ import annotations

import dataclasses
import difflib
from types import SimpleNamespace
from unittest import mock

import discord

from bot.app import SoundalikeBot
from recommender.app.core import Soundalike
from recommender.app.limits import ComputePool
from recommender.app.retrainer import Retrainer
from recommender.config import Config
from recommender.feedback.log import FeedbackLog, RatingOutcome
from recommender.results import Answer, Candidate, Resolution, Suggestion
from recommender.service import NotEnoughHistory

GUILD_ID = 111
CHANNEL_ID = 222
ADMIN_ROLE_ID = 333
ADMIN_USER_ID = 444
MESSAGE_ID = 555

SONGS = [
    # item_id, title, artist, listeners
    ("s-heyya", "Hey Ya!", "OutKast", 500),
    ("s-hello-a", "Hello", "Adele", 400),
    ("s-hello-l", "Hello", "Lionel Richie", 300),
    ("s-msjackson", "Ms. Jackson", "OutKast", 250),
    ("s-roses", "Roses", "OutKast", 120),
    ("s-jude", "Hey Jude", "The Beatles", 200),
]


class FakeService:
    """The service contract on six songs: exact titles are confident, shared titles ambiguous."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.model = SimpleNamespace(version="v1")
        self.dataset = SimpleNamespace(name="tiny")
        self.rollback_error: Exception | None = None  # what rollback() raises, if anything
        self.fail_similar: Exception | None = None
        self.options: list[dict] = []  # the knobs of each similar/mix/for_you call, in order
        self.note: str | None = None  # what no_match_note() says (the real one: on the demo data)

    def _candidate(self, row, score=100.0) -> Candidate:
        item_id, title, artist, listeners = row
        return Candidate(SONGS.index(row), item_id, title, artist, score, listeners)

    def candidate(self, item_id: str) -> Candidate | None:
        self.calls.append(("candidate", item_id))
        row = next((r for r in SONGS if r[0] == item_id), None)
        return None if row is None else self._candidate(row)

    def resolve(self, title: str, artist: str | None = None) -> Resolution:
        """Exact titles are confident (several songs with one title: a close call); a title
        near one of the catalog's ("Hey Yaa") is a far match; an artist's name lists their songs;
        a title with an artist none of its songs is by offers the others (``artist_matched`` False)."""
        self.calls.append(("resolve", title, artist))
        titled = [r for r in SONGS if r[1].lower() == title.lower()]
        rows = [r for r in titled if artist is None or r[2] == artist]
        if rows:
            return Resolution(
                title,
                artist,
                [self._candidate(r) for r in rows],
                confident=len(rows) == 1,
                close_call=len(rows) > 1,
                artist_matched=True if artist else None,
            )
        if titled:  # the title matches, but no song by that artist: the others, never taken
            return Resolution(
                title, artist, [self._candidate(r) for r in titled], confident=False, artist_matched=False
            )
        by_artist = sorted((r for r in SONGS if r[2].lower() == title.lower() and artist is None), key=lambda r: -r[3])
        if by_artist:
            return Resolution(
                title,
                None,
                [self._candidate(r) for r in by_artist],
                confident=False,
                kind="artist",
                named_artist=by_artist[0][2],
            )
        near = difflib.get_close_matches(title.lower(), [r[1].lower() for r in SONGS], n=3, cutoff=0.8)
        rows = [r for r in SONGS if r[1].lower() in near]
        # Nothing near: the closest titles are those with the same first letter.
        closest = [] if rows else [r[1] for r in SONGS if r[1][0].lower() == title[:1].lower()]
        return Resolution(
            title, artist, [self._candidate(r, score=80.0) for r in rows], confident=False, closest=closest
        )

    def no_match_note(self) -> str | None:
        return self.note

    def complete(self, partial: str, artist: str | None = None, limit: int = 25) -> list[tuple[str, str]]:
        self.calls.append(("complete", partial, artist))
        return [(f"{t} — {a}", i) for i, t, a, _ in SONGS if t.lower().startswith(partial.lower())][:limit]

    def complete_artist(self, partial: str, limit: int = 25) -> list[str]:
        return sorted({a for _, _, a, _ in SONGS if a.lower().startswith(partial.lower())})[:limit]

    def similar(
        self,
        item_id: str,
        count: int = 5,
        offset: int = 0,
        novelty=None,
        exclude_seed_artist=False,
        per_artist_cap=None,
        exclude_ids=(),
    ) -> Answer:
        self.calls.append(("similar", item_id, count, tuple(sorted(exclude_ids))))
        self.options.append(
            {
                "offset": offset,
                "novelty": novelty,
                "exclude_seed_artist": exclude_seed_artist,
                "per_artist_cap": per_artist_cap,
            }
        )
        if self.fail_similar is not None:
            raise self.fail_similar
        return self._answer([item_id], count, offset, exclude_ids)

    def mix(
        self,
        item_ids,
        count: int = 5,
        offset: int = 0,
        novelty=None,
        per_artist_cap=None,
        exclude_ids=(),
        exclude_seed_artist=False,
    ) -> Answer:
        self.calls.append(("mix", tuple(item_ids), count, tuple(sorted(exclude_ids))))
        self.options.append({"offset": offset, "novelty": novelty, "per_artist_cap": per_artist_cap})
        return self._answer(list(item_ids), count, offset, exclude_ids)

    def for_you(
        self, liked_ids, count: int = 5, offset: int = 0, novelty=None, per_artist_cap=None, exclude_ids=()
    ) -> Answer:
        self.calls.append(("for_you", tuple(liked_ids), count, tuple(sorted(exclude_ids))))
        self.options.append({"offset": offset, "novelty": novelty})
        if len(set(liked_ids)) < 3:
            raise NotEnoughHistory(f"You have liked {len(set(liked_ids))} suggestions so far; /foryou needs 3.")
        answer = self._answer(list(liked_ids), count, offset, exclude_ids)
        return dataclasses.replace(answer, seeds=[])

    def _answer(self, seed_ids: list[str], count: int, offset: int, exclude_ids) -> Answer:
        others = [r for r in SONGS if r[0] not in seed_ids and r[0] not in exclude_ids][offset : offset + count]
        suggestions = [
            Suggestion(SONGS.index(r), r[0], r[1], r[2], 0.9 - 0.1 * n, f"reason {n}") for n, r in enumerate(others)
        ]
        seeds = [self.candidate(item_id) for item_id in seed_ids]
        return Answer(seeds, suggestions, self.model.version, self.dataset.name, offset=offset)

    def reload(self, version: str | None = None) -> str:
        self.calls.append(("reload", version))
        self.model = SimpleNamespace(version=version or "v2")
        return self.model.version

    def rollback(self) -> tuple[str, str]:
        self.calls.append(("rollback",))
        if self.rollback_error is not None:
            raise self.rollback_error
        before, self.model = self.model.version, SimpleNamespace(version="v0")
        return before, self.model.version

    def model_info(self) -> dict:
        return {
            "version": self.model.version,
            "algorithm": "als",
            "created": "2026-01-02T03:04:05+00:00",
            "dataset": "tiny",
            "metrics": {"ndcg@10": 0.31},
            "versions": ["v1"],
        }


def make_bot(config: Config, *, service=None, feedback_log=None, retrainer=None, pool=None) -> SoundalikeBot:
    """A real SoundalikeBot (never connected) around the real application object, itself around
    fakes and spec'd mocks (``bot.app.service``, ``bot.app.feedback_log``, ...)."""
    settings = dataclasses.replace(config.bot, admin_role_ids=[ADMIN_ROLE_ID], admin_user_ids=[ADMIN_USER_ID])
    config = dataclasses.replace(config, bot=settings)
    if feedback_log is None:
        feedback_log = mock.create_autospec(FeedbackLog, instance=True, spec_set=True)
        feedback_log.disliked_items.return_value = set()
        feedback_log.liked_items.return_value = []
        feedback_log.blocked_items.return_value = set()
        feedback_log.record_answer.return_value = 1
        feedback_log.rate_or_take_back.return_value = RatingOutcome.RECORDED
        feedback_log.query_for_message.return_value = None
        feedback_log.feedback_over_time.return_value = []
        feedback_log.top_queries.return_value = []
        feedback_log.claim_turn.return_value = 0.0
        feedback_log.give_back_turn.return_value = True
    app = Soundalike(
        config,
        service or FakeService(),
        feedback_log,
        pool or ComputePool(per_guild=4, max_queue=8, workers=1),
        retrainer or mock.create_autospec(Retrainer, instance=True, spec_set=True),
    )
    return SoundalikeBot(app=app)


def make_role(role_id: int) -> discord.Role:
    role = mock.create_autospec(discord.Role, instance=True, spec_set=True)
    role.id = role_id
    return role


def make_message(message_id: int = MESSAGE_ID) -> discord.InteractionMessage:
    message = mock.create_autospec(discord.InteractionMessage, instance=True, spec_set=True)
    message.id = message_id
    return message


def make_interaction(
    bot: SoundalikeBot,
    *,
    user_id: int = 1,
    dm: bool = False,
    role_ids: tuple[int, ...] = (),
    manage_guild: bool = False,
    kind=discord.InteractionType.application_command,
    message: discord.Message | None = None,
) -> discord.Interaction:
    interaction = mock.create_autospec(discord.Interaction, instance=True, spec_set=True)
    interaction.client = bot
    interaction.type = kind
    interaction.guild_id = None if dm else GUILD_ID
    interaction.guild = None
    interaction.channel_id = CHANNEL_ID
    if dm:
        user = mock.create_autospec(discord.User, instance=True, spec_set=True)
    else:
        user = mock.create_autospec(discord.Member, instance=True, spec_set=True)
        user.roles = [make_role(r) for r in role_ids]
    user.id = user_id
    interaction.user = user
    interaction.permissions = discord.Permissions(manage_guild=manage_guild)
    interaction.response = mock.create_autospec(discord.InteractionResponse, instance=True, spec_set=True)
    interaction.response.is_done.return_value = False
    interaction.followup = mock.create_autospec(discord.Webhook, instance=True, spec_set=True)
    interaction.edit_original_response.return_value = make_message()
    interaction.message = message
    interaction.namespace = SimpleNamespace()
    return interaction


def sent_texts(interaction) -> list[str]:
    """Every text the cog sent through the response or followups, in order."""
    texts = []
    for call in interaction.response.send_message.call_args_list + interaction.followup.send.call_args_list:
        texts.append(call.args[0] if call.args else call.kwargs.get("content", ""))
    return texts


def assert_no_mentions(async_mock) -> None:
    for call in async_mock.call_args_list:
        allowed = call.kwargs.get("allowed_mentions")
        assert isinstance(allowed, discord.AllowedMentions) and allowed.to_dict() == {"parse": []}, call
