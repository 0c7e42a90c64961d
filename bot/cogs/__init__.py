"""One cog per concern; each module is a discord.py extension loaded by ``SoundalikeBot.setup_hook``."""
