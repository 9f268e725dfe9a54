"""Tools: ship a trained run as a model folder (``ship_model``); ``campaigns/`` holds the
scripts and run lists of recorded campaigns."""
