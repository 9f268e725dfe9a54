"""Deprecated: the descent loop moved to :mod:`irem_core` before irem 0.2.0 (removed in 0.3.0).

``from irem_plugins.optimizers.descent import DescentLoop`` still works and warns; write
``from irem_core import DescentLoop`` instead.
"""

from irem_core.deprecation import forward_to
from irem_core.reasoning import descent

__getattr__ = forward_to(__name__, descent, via_irem_core=True)
