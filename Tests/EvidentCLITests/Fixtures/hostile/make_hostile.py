"""Writes the hostile ONNX models of HostileInputTests (run once; the outputs are committed).

    python3 Tests/EvidentCLITests/Fixtures/hostile/make_hostile.py

Each model is malformed or degenerate in one way a reader must survive with a clear error and
bounded memory. They are built with onnx.helper without the checker, since most are invalid.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_hostile.py")
    with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def weights(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def raw_tensor(name, dims, array):
    """A float tensor whose dims and data need not agree (helper.make_tensor checks them)."""
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.raw_data = np.asarray(array, dtype=np.float32).tobytes()
    return t


def gemm(input_name, output_name, w, b):
    return helper.make_node("Gemm", [input_name, w, b], [output_name], transB=1)


rng = np.random.default_rng(7)

# A weight declaring 10^10 elements that holds four.
huge = raw_tensor("W", [100000, 100000], np.zeros(4))
save("huge_initializer", [helper.make_node("MatMul", ["x", "W"], ["y"])], [value("x", [1, 100000])],
     [value("y", [1, 100000])], [huge])

# An input declaring 4·10^9 elements (no data anywhere: the reader must not allocate for it).
save("huge_input", [helper.make_node("Relu", ["x"], ["y"])], [value("x", [1, 4, 1000000000])],
     [value("y", [1, 4, 1000000000])])

# A 3×4 weight holding 5 numbers.
short = raw_tensor("W", [3, 4], np.ones(5))
save("shape_mismatch", [gemm("x", "y", "W", "b")], [value("x", [1, 4])], [value("y", [1, 3])],
     [short, weights("b", np.zeros(3))])

# Two nodes that consume each other's output.
save("cycle", [helper.make_node("Add", ["x", "t2"], ["t1"]), helper.make_node("Relu", ["t1"], ["t2"])],
     [value("x", [1, 4])], [value("t2", [1, 4])])

# NaN and infinite weights.
for name, bad in [("nan_weight", np.nan), ("inf_weight", np.inf)]:
    w = rng.standard_normal((3, 4)).astype(np.float32)
    w[1, 2] = bad
    save(name, [gemm("x", "y", "W", "b")], [value("x", [1, 4])], [value("y", [1, 3])], [weights("W", w), weights("b", np.zeros(3))])

# A MatMul chain through a 4×0 weight: the product is an empty sum.
save("zero_inner", [helper.make_node("MatMul", ["x", "A"], ["h"]), helper.make_node("MatMul", ["h", "B"], ["y"])],
     [value("x", [1, 4])], [value("y", [1, 3])], [weights("A", np.zeros((4, 0))), weights("B", np.zeros((0, 3)))])

# Pooling whose padding is as large as the kernel (onnxruntime refuses it).
for op in ["MaxPool", "AveragePool"]:
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[2, 2], pads=[2, 2, 2, 2], strides=[1, 1])
    save(op.lower() + "_pads", [node], [value("x", [1, 1, 4, 4])], [value("y", [1, 1, 7, 7])])

# A Gemm whose large weights make every bound overflow to infinity (for --json).
save("overflow", [gemm("x", "y", "W", "b")], [value("x", [1, 2])], [value("y", [1, 2])],
     [weights("W", np.diag([3e38, 3e38])), weights("b", np.zeros(2))])
