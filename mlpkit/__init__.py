"""mlpkit: the small library behind the backpropagation course.

Modules, one idea each: ``graph`` (scalar autodiff and its picture), ``ops``
(layer functions and their backward passes), ``losses``, ``mlp`` (the MLP and
its backward loop), ``training`` (mini-batch SGD), ``gradcheck`` (finite
differences), ``datasets``, ``plots`` (curves over data) and ``pictures`` (diagrams
of networks and matrices). ``widgets`` (the lectures' ipywidgets) is imported on
its own, ``import mlpkit.widgets``, because it needs ipywidgets.
"""

from . import datasets, gradcheck, graph, losses, ops, pictures, plots
from .mlp import MLP
from .training import TrainingDiverged, train

__all__ = ["MLP", "train", "TrainingDiverged", "graph", "ops", "losses", "gradcheck", "datasets", "plots", "pictures"]
__version__ = "0.1.0"
