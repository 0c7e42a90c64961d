"""Serving policy: which songs an answer leaves out, decided here for every front end.

- A server's blocked songs (admins' /block) are never shown in that server.
- /soundalike leaves out what the member turned down (👎 on the song itself) in answers for
  the same seed: a song can be wrong next to one song and right next to another.
- /mix and /foryou leave out everything the member turned down in this server.
- /foryou folds in the songs the member likes in this server; the service leaves that history
  out of the answer by itself, so the likes are passed as history, not as exclusions.
"""

from __future__ import annotations

from dataclasses import dataclass

from recommender.app.answers import Member, Request
from recommender.feedback.log import FeedbackLog


@dataclass(frozen=True)
class Exclusions:
    """What one answer leaves out (``left_out``, sorted item ids) and, for /foryou, the liked
    songs it is made from (``liked``)."""

    left_out: tuple[str, ...]
    liked: tuple[str, ...] = ()


async def exclusions_for(feedback_log: FeedbackLog, request: Request, member: Member) -> Exclusions:
    """The songs ``request`` must not show ``member``, read from the log."""
    left_out = set(await feedback_log.blocked_items(member.guild_id))
    seed = request.seed_item_id
    if seed is not None:
        left_out |= await feedback_log.disliked_items(member.guild_id, member.user_id, seed)
    else:
        left_out |= await feedback_log.disliked_items(member.guild_id, member.user_id)
    liked: tuple[str, ...] = ()
    if request.command == "foryou":
        liked = tuple(await feedback_log.liked_items(member.guild_id, member.user_id))
    return Exclusions(tuple(sorted(left_out)), liked)
