"""Diagnostics of trained runs: error against graph size (``graph_size``) and path length
(``path_hops``), a descent step by step (``descent_trace``), and the best error any 1-WL
model can reach (``wl_ceiling``). Nothing here trains."""
