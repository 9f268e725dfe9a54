"""Deprecated: graph batches moved to :mod:`irem_core` in irem 0.2.0 (removed in 0.3.0).

``from irem_plugins.graph.batching import GraphBatch`` still works and warns; write
``from irem_core import GraphBatch`` instead.
"""

from irem_core.deprecation import forward_to
from irem_core.reasoning import graphs

__getattr__ = forward_to(__name__, graphs, via_irem_core=True)
