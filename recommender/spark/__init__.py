"""Apache Spark for data and training past one machine (``--engine spark``).

session    one SparkSession per process, for the configured master (pyspark imported lazily)
training   pyspark.ml ALS(implicitPrefs) with the project's parameters mapped onto Spark's
importing  Spark readers (MSD, delimited files) writing a dataset Spark trains on directly

The library core imports none of this at start: the bot runs without pyspark or Java.
"""
