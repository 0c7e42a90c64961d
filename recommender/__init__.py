"""Soundalike's recommender library: data import, training, model store, title
resolution, "similar to" answers and evaluation. No Discord in here: the bot, the
console and the CLI all call into :mod:`recommender.service`.
"""
