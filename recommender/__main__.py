import sys

from recommender.cli.main import main

sys.exit(main())
