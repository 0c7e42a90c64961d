"""The application layer: the use cases every front end (Discord bot, console) shares.

Look up, compute, log, rate, block, retrain: no Discord and no terminal in here.
"""
