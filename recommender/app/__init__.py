"""The application layer: what a member or an admin can do, whichever front end they use.

``core.Soundalike`` is the one object the Discord bot and the console call (look up, answer,
log, rate, block, stats, forget, retrain, model, rollback); ``answers`` holds the steps and
their typed results, ``policy`` which songs an answer leaves out, ``options`` the checks of
what a person gave, ``wording`` the sentences both front ends say. No Discord and no terminal
in here.
"""
