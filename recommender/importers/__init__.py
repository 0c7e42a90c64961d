"""Importers: turn listening data (a ListenBrainz dump, the MSD, a CSV, the demo generator) into datasets.

- ``layout``: what a delimited file looks like (fields, separator, quoting, where rows start);
- ``reading``: the chunked, threaded reader every importer uses (exact file and line for bad
  rows, ``on_error="skip"``) and what an import reports;
- ``encoding``: string ids to codes, vocabularies merged, the users x items matrix builder;
- ``detection``: a file's separator, header line and columns when the options do not say;
- ``parquet``: Parquet files read into the reader's checked tables;
- ``csv``: ``data import-csv`` (any delimited or Parquet user/item[/count] file and a catalog);
- ``msd``: ``data import-msd`` (Taste Profile triplets + ``unique_tracks.txt``);
- ``listens``: one ListenBrainz listen parsed and normalised (pure functions, no I/O);
- ``listen_blocks``: a block of listens lines parsed at once by pyarrow, by the same rules;
- ``dump_files``: the month files of a listens dump (folder or archive stream), the month range;
- ``listenbrainz``: ``data import-listenbrainz`` (a listens dump folder, ``.tar.zst`` or ``.tar.xz``);
- ``download``: ``data download-msd`` (resumable HTTP download, size check, unzip);
- ``demo``: ``data demo`` (synthetic listeners over the shipped catalog).

The commands themselves are in :mod:`recommender.cli.data`.

Datasets are only ever written through :func:`recommender.dataset.write_dataset`.
"""
