"""Soundalike's recommender library: data import, training, model store, title
resolution, "similar to" answers and evaluation. No Discord in here. The bot and the
console call the application layer (:mod:`recommender.app`); the command line
(:mod:`recommender.cli`) calls :mod:`recommender.service`.
"""
