"""The visible checks' machinery, one job per module; ``coursekit.feedback`` is what the exercises import.

``diagnosis`` (comparing one answer and naming the mistake, also used by the grader's hidden tests), ``calling``
(running the student's function with the practised mlpkit functions uncallable), and the checks of each exercise:
``graph`` (the graph by hand, topological_order, graph_backward), ``layers`` (layer and loss gradients),
``jacobian`` (softmax's Jacobian), ``mlp`` (the MLP's backward) and ``training`` (train_sgd).
"""
