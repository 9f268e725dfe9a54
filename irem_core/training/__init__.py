"""Training: the loop (:mod:`.loop`), run-directory safety (:mod:`.rundir`), the saved training
state, replay, the learning-rate schedule, data parallelism, precision and loggers."""
