"""The measurements, one per process: ``python -m bench.steps <step> --scale S --work DIR --out FILE``.

Each step writes a JSON object of its own figures to ``--out`` (latencies, per-iteration
times, quality); :mod:`bench.measure` adds the wall time, CPU time and peak RSS of the whole
process. A step that fails (product code missing included) writes
``{"status": "failed", "reason": ...}`` and exits 1; the rest of the suite goes on.

One module per group of steps, each importing the product directly:

  context       the shared Context (scale, work folder, seed), percentiles, memory
  commands      the product's own command lines the suite runs measured (import-msd, train)
  importing     (a) the import anchor: pandas' reader -> CSR
  loading       (b) Dataset.load
  training      (c) implicit's ALS with its defaults, and its factors for the compute anchors
  spark         (c) the spark engine's ALS at local[2] beside it: seconds per iteration, memory
  serving       the service and the titles people type, shared by (d)-(h)
  answering     one /soundalike as the bot answers it (resolve, similar, render) and its pool
  startup       (d) open-first, open
  compute       (e) the compute path beside implicit's similar_items and the original's request
  throughput    (f) many /soundalike at once
  autocomplete  (g) service.complete beside a rapidfuzz scan
  retrain       (h) serving while the bot's retrain runs
  resolver      (i) bench.resolver_bench at the scale's title count
  ann           (j) recommender.ann beside brute force; ann-compare (the library choice)
  burst         (k) 1,000 /soundalike at once through the bot and a fake Discord in its own process
  burst-processes (k) the same against two bot processes, one shard each (one per core)

Each step's process is measured whole, so a module imports only what its own steps need:
what one step imports must not count in another's time and memory (``python -m bench.steps``
imports the module of the step it runs, and no other). Two figures include imports on purpose,
so their modules import inside the timed region: the start (d), as a bot process pays for
importing the library before it can answer, and the import anchor's reader (a).

Folders under ``--work`` (bench/work/scale-<s>/):
  msd/     the generated MSD-shaped files (bench.generate)
  data/    the product's data root: datasets/msd, models/msd (SOUNDALIKE_DATA__ROOT)
  anchor/  what the anchors need: implicit's factors (.npz), the original's pickles
"""
