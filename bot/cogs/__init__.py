"""One cog per concern; each module is a discord.py extension loaded by ``SoundalikeBot.setup_hook``.

Cogs import the bot's shared pieces (bot.options, bot.rating, bot.picks, bot.replies, bot.checks,
bot.messages, bot.render) and recommender.app, never each other."""
