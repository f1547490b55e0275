"""The visible checks of the graded exercises: what the test cells run when you press Validate.

Each ``check_*`` function runs one small, fixed example through your function and,
when the answer is wrong, says in plain words what kind of mistake it looks like
(a wrong shape, a transposed result, a factor of B, a flipped sign, an activation
derivative taken at the output, the value of ReLU's derivative at 0, a missing
shuffle...). While your function runs, the mlpkit functions that would do the
exercise's work (``PRACTISED``) are uncallable, your function's warnings are shown
on stdout instead of stderr (a warning never costs points), and its arguments are
checked afterwards: a function must not change the arrays it receives.

A check that passes is a good sign, not the grade. The grade comes from hidden
tests that the grader runs on random inputs, in a separate process, with the
practised functions removed (docs/instructors.md); nothing in this package grades.

This module is the checks' public face; they live in ``coursekit.checks``, by job: ``diagnosis`` (comparing one
answer, naming the mistake), ``calling`` (running your function with the practised functions uncallable),
``graph`` (the graph by hand, topological_order, graph_backward), ``layers`` (layer and loss gradients),
``jacobian`` (softmax's Jacobian), ``mlp`` (the MLP's backward) and ``training`` (train_sgd).
"""

from mlpkit.gradcheck import rel_error  # noqa: F401 - feedback.rel_error, as before the split

from .checks import graph, jacobian, layers, mlp, training
from .checks.calling import PRACTISED, forbidden, resolve
from .checks.diagnosis import (
    ABSOLUTE_TOLERANCE,
    TOLERANCE,
    FeedbackError,
    batch_size_mistakes,
    close,
    diagnose,
    relu_forgotten,
)
from .checks.training import _correct_backward  # noqa: F401 - the grader sends _correct_backward's source

#: Every visible check, by the graded function it checks: the ``check_<name>`` functions of the checks modules.
#: A new check written in one of these modules is here (and is ``feedback.check_<name>``) without an edit.
CHECKS = {name.removeprefix("check_"): check for module in (graph, jacobian, layers, mlp, training)
          for name, check in vars(module).items()
          if name.startswith("check_") and getattr(check, "__module__", None) == module.__name__}
globals().update({f"check_{name}": check for name, check in CHECKS.items()})

__all__ = ["FeedbackError", "PRACTISED", "TOLERANCE", "ABSOLUTE_TOLERANCE", "CHECKS", "close", "diagnose",
           "batch_size_mistakes", "relu_forgotten", "forbidden", "resolve", *(f"check_{name}" for name in CHECKS)]

