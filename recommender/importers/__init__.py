"""Importers: turn listening data (the MSD, a CSV, the demo generator) into datasets.

- ``csv``: the chunked, threaded reader every importer uses (exact file and line for bad rows,
  ``on_error="skip"``), the users x items matrix builder, and ``data import-csv``.
- ``msd``: ``data import-msd`` (Taste Profile triplets + ``unique_tracks.txt``).
- ``download``: ``data download-msd`` (resumable HTTP download, size check, unzip).
- ``demo``: ``data demo`` (synthetic listeners over the shipped catalog).
- ``commands``: the ``data`` sub-commands above, registered by :mod:`recommender.cli.main`.

Datasets are only ever written through :func:`recommender.dataset.write_dataset`.
"""
