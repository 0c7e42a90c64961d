"""`python -m recommender`: the command line over the library (one module per area)."""
