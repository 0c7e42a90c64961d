"""Soundalike's Discord layer: thin cogs over :class:`recommender.service.SoundalikeService`.

``python -m bot`` runs the bot (token from DISCORD_TOKEN); ``python -m bot --console`` offers
the same commands in a terminal or from a pipe.
"""
