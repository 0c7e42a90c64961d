"""/block and /unblock (bot.cogs.blocks): the autocomplete shows blocks to admins only."""

from __future__ import annotations

from bot_mocks import (
    ADMIN_ROLE_ID,
    ADMIN_USER_ID,
    make_interaction,
)


async def test_unblock_autocomplete_shows_the_blocked_songs_to_admins_only(bot):
    from bot.cogs.blocks import BlocksCog

    bot.app.feedback_log.blocked_items.return_value = {"s-heyya"}
    cog = BlocksCog(bot)
    for admin in (
        make_interaction(bot, role_ids=(ADMIN_ROLE_ID,)),
        make_interaction(bot, manage_guild=True),
        make_interaction(bot, user_id=ADMIN_USER_ID),
    ):
        choices = await cog.unblock_autocomplete(admin, "")
        assert [(c.name, c.value) for c in choices] == [("Hey Ya! — OutKast", "s-heyya")]
    for outsider in (
        make_interaction(bot),
        make_interaction(bot, role_ids=(ADMIN_ROLE_ID + 1,)),
        make_interaction(bot, dm=True),
    ):
        assert await cog.unblock_autocomplete(outsider, "") == []
