"""Importers: turn listening data (the MSD, a CSV, the demo generator) into datasets."""
