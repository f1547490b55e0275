"""A scalar computational graph with reverse-mode autodiff (its picture is drawn by ``coursekit.drawing``).

Every ``Value`` remembers the numbers it was computed from (``children``) and the
*local gradient* of itself with respect to each of them. ``backward()`` walks the
graph from the output to the inputs and applies the one rule of backprop:

    downstream gradient = local gradient x upstream gradient

and a node reached along several paths adds up what each path brings.

    >>> x, y = Value(1.0, name="x"), Value(4.0, name="y")
    >>> L = x**2 + 2*x*y
    >>> L.backward()
    >>> L.data, x.grad, y.grad
    (9.0, 10.0, 2.0)
"""

from __future__ import annotations

import math
import numbers

__all__ = ["Value", "draw", "topological_order", "NotANumberError"]


class NotANumberError(TypeError, ValueError):
    """A Value was given something that is not a real number (both a TypeError and a ValueError)."""


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise NotANumberError(
            f"{name} must be a real number or a Value, got {type(value).__name__} ({value!r})"
        )
    return float(value)


class Value:
    """One scalar node of a computational graph.

    Attributes:
        data: the forward value.
        grad: dL/d(this node) after ``L.backward()``; 0.0 before.
        name: a label for pictures ("x", "y"); operations are labelled by ``op``.
        op: the operation that produced the node ("" for inputs, "+", "*", "exp", ...).
        children: the nodes this one was computed from.
        local_grads: d(this node)/d(child), one number per child.
    """

    __slots__ = ("data", "grad", "name", "op", "children", "local_grads", "is_constant")

    def __init__(self, data: float, name: str = "", *, _children: tuple[Value, ...] = (),
                 _local_grads: tuple[float, ...] = (), _op: str = "") -> None:
        self.data = _number("data", data)
        self.grad = 0.0
        self.name = str(name)
        self.op = _op
        self.children = _children
        self.local_grads = _local_grads
        self.is_constant = False

    # -- building the graph ------------------------------------------------
    @staticmethod
    def _wrap(other: Value | float) -> Value:
        if isinstance(other, Value):
            return other
        constant = Value(_number("operand", other), name=f"{float(other):g}")
        constant.is_constant = True
        return constant

    def __add__(self, other: Value | float) -> Value:
        other = self._wrap(other)
        return Value(self.data + other.data, _children=(self, other), _local_grads=(1.0, 1.0), _op="+")

    def __mul__(self, other: Value | float) -> Value:
        other = self._wrap(other)
        return Value(self.data * other.data, _children=(self, other),
                     _local_grads=(other.data, self.data), _op="*")

    def __pow__(self, exponent: float) -> Value:
        if isinstance(exponent, Value):
            raise TypeError("Value ** Value is not supported: the exponent must be a number, "
                            "e.g. x**2; write exp(y * log(x)) for a variable exponent")
        p = _number("exponent", exponent)
        if self.data == 0 and p < 1:
            raise ValueError(f"0 ** {p:g} has no finite derivative at 0; keep the base away from 0")
        return Value(self.data ** p, _children=(self,), _local_grads=(p * self.data ** (p - 1),),
                     _op=f"**{p:g}")

    def __neg__(self) -> Value:
        return Value(-self.data, _children=(self,), _local_grads=(-1.0,), _op="neg")

    def __sub__(self, other: Value | float) -> Value:
        other = self._wrap(other)
        return Value(self.data - other.data, _children=(self, other), _local_grads=(1.0, -1.0), _op="-")

    def __truediv__(self, other: Value | float) -> Value:
        other = self._wrap(other)
        if other.data == 0:
            raise ZeroDivisionError("division by zero: the divisor's data is 0")
        return self * other ** -1

    def __radd__(self, other: float) -> Value:
        return self._wrap(other) + self

    def __rmul__(self, other: float) -> Value:
        return self._wrap(other) * self

    def __rsub__(self, other: float) -> Value:
        return self._wrap(other) - self

    def __rtruediv__(self, other: float) -> Value:
        return self._wrap(other) / self

    def exp(self) -> Value:
        """e**x; its local gradient is e**x itself."""
        out = math.exp(self.data)
        return Value(out, _children=(self,), _local_grads=(out,), _op="exp")

    def log(self) -> Value:
        """Natural logarithm; local gradient 1/x. Raises ValueError for x <= 0."""
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got {self.data:g}")
        return Value(math.log(self.data), _children=(self,), _local_grads=(1.0 / self.data,), _op="log")

    def sigmoid(self) -> Value:
        """1 / (1 + e**-x); local gradient sigma * (1 - sigma)."""
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Value(s, _children=(self,), _local_grads=(s * (1.0 - s),), _op="sigmoid")

    def relu(self) -> Value:
        """max(0, x); local gradient 1 for x > 0, 0.5 at x == 0 (the slides), 0 for x < 0."""
        x = self.data
        local = 1.0 if x > 0 else (0.5 if x == 0 else 0.0)
        return Value(max(0.0, x), _children=(self,), _local_grads=(local,), _op="relu")

    # -- backprop ----------------------------------------------------------
    def backward(self) -> None:
        """Fill ``.grad`` of every node this one depends on with dself/dnode.

        Gradients are reset first, so calling ``backward()`` twice gives the same
        result; a node reached by several paths receives the sum of all paths.
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):               # from the output back to the inputs
            for child, local in zip(node.children, node.local_grads):
                child.grad += local * node.grad    # local gradient x upstream gradient

    @property
    def label(self) -> str:
        """The name if one was given, otherwise the operation."""
        return self.name or self.op or "value"

    def __repr__(self) -> str:
        name = f"name={self.name!r}, " if self.name else (f"op={self.op!r}, " if self.op else "")
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its children (inputs first)."""
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:                                    # iterative: deep graphs do not hit the recursion limit
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in node.children if id(child) not in seen)
    return order


def draw(root: Value, *, show_grad: bool = True, show_local: bool = False, ax=None, title: str | None = None):
    """A picture of the graph that computes ``root``: see ``coursekit.drawing.draw`` (needs matplotlib)."""
    from coursekit.drawing import draw as draw_graph  # imported here: the autodiff itself needs no matplotlib

    return draw_graph(root, show_grad=show_grad, show_local=show_local, ax=ax, title=title)
