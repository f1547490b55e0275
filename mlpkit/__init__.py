"""mlpkit: the small library behind the backpropagation course.

Modules, one idea each: ``graph`` (scalar autodiff; ``graph.draw`` pictures it
with ``coursekit.drawing``), ``ops`` (layer functions and their backward passes), ``losses``,
``mlp`` (the MLP and its backward loop), ``training`` (mini-batch SGD),
``gradcheck`` (finite differences), ``datasets`` and ``plots`` (curves over data).
The course's checks, pictures and widgets live in ``coursekit``.
"""

from . import datasets, gradcheck, graph, losses, ops, plots
from .mlp import MLP
from .training import TrainingDiverged, train

__all__ = ["MLP", "train", "TrainingDiverged", "graph", "ops", "losses", "gradcheck", "datasets", "plots"]
__version__ = "0.1.0"
