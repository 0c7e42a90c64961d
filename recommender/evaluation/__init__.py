"""Offline evaluation: every figure beside the popularity baseline, on the same split.

- ``splits``: the holdout split of interactions, held-out users (half of each history
  visible), and the cases asked about them (item2item seeds, /foryou histories, mixes);
- ``baseline``: the most-listened recommender every figure is printed beside;
- ``metrics``: implicit's holdout metrics, Liang et al.'s per-list scores, and the
  beyond-accuracy figures of answer lists (coverage, novelty, diversity, listeners);
- ``ranking_context``: a split's training part as the bot ranks answers from it;
- ``protocols``: ``evaluate`` for holdout / users / item2item / mix (``item2item``: its figures);
- ``defaults``: each command's default ranking (what "balanced" means), chosen on validation;
- ``knobs``: the novelty knob's trade-off measured on the bot's own ranking (``--knobs``);
- ``tuning``: ``train --tune``, a search on a validation split of the training part;
- ``calibration``: each model's "deep cuts" beta, chosen on a validation split.

The stored model was trained on all the data, so every protocol re-fits the model's
configuration on its training part; the figures describe the configuration. The command
(``python -m recommender evaluate``) is :mod:`recommender.cli.evaluate`.
"""
