"""Reasoning as energy minimisation: the protocols (:mod:`.protocols`), binding an energy to a
batch (:mod:`.energy`), the shared descent loop (:mod:`.descent`), the energy solver, graph
batches and the vector-task base."""
