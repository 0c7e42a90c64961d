"""Soundalike's Discord layer: thin cogs over the application object, :class:`recommender.app.core.Soundalike`.

``python -m bot`` runs the bot (token from DISCORD_TOKEN); ``python -m bot --console`` offers
the same commands in a terminal or from a pipe.
"""
