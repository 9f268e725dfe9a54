"""Speed: throughput and FLOP/s against a plain reference loop (``run``), where a training
iteration's time goes (``profile``), performance studies (``studies``) and error against
training time (``time_to_quality``)."""
