#!/usr/bin/env python3
"""Builds the structural-operator fixtures (Slice, Split, Gather, Neg) and their onnxruntime outputs.

Each model goes to `structural/NAME.onnx`; `structural_fixtures.json` records, per model,
the file, opset, element type, input and output shapes, a seeded input and onnxruntime's
output. Most models are DOUBLE, so that onnxruntime's rounding cannot hide a wrong index;
a few are FLOAT (onnxruntime then computes in float32). Models under `structural/errors/`
must be refused; they have no outputs.

Run from anywhere (needs numpy, onnx, onnxruntime):
    python3 Tests/EvidentBoundsTests/Fixtures/make_structural_fixtures.py
The Swift tests never run Python.
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "structural")
ERRORS = os.path.join(HERE, "errors")
IR_FOR_OPSET = {7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8}
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

rng = np.random.default_rng(20261207)
records = []


def ints(*values):
    return np.array(values, dtype=np.int64)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name or f"{op}_{outputs[0]}", **attrs)


def model(nodes, input_shape, initializers=(), opset=13, elem=TensorProto.DOUBLE):
    graph = helper.make_graph(nodes, "structural", [helper.make_tensor_value_info("x", elem, input_shape)],
                              [helper.make_tensor_value_info("y", elem, None)], initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_FOR_OPSET[opset],
                             producer_name="evident-fixtures")


def weights(*shape, dtype=np.float64):
    return (rng.standard_normal(shape) * 0.6).astype(dtype)


def add(name, nodes, input_shape, initializers=(), opset=13, elem=TensorProto.DOUBLE):
    m = model(nodes, input_shape, initializers, opset, elem)
    dtype = np.float64 if elem == TensorProto.DOUBLE else np.float32
    x = rng.standard_normal(input_shape).astype(dtype)
    session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    # The output's declared shape is onnxruntime's.
    m.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", elem, list(y.shape)))
    onnx.checker.check_model(m, full_check=True)
    os.makedirs(HERE, exist_ok=True)
    onnx.save(m, os.path.join(HERE, name + ".onnx"))
    records.append({"name": name, "file": "structural/" + name + ".onnx", "opset": opset,
                    "element_type": "double" if elem == TensorProto.DOUBLE else "float",
                    "input_shape": list(input_shape), "output_shape": list(y.shape),
                    "input": [float(v) for v in x.flatten()], "output": [float(v) for v in y.flatten()]})


# ---- Slice ------------------------------------------------------------------------------
add("slice_opset9_attributes", [node("Slice", ["x"], ["y"], starts=[1, 0], ends=[3, 100], axes=[1, 2])],
    [1, 4, 6], opset=9)
add("slice_opset7_default_axes_float", [node("Slice", ["x"], ["y"], starts=[0, 1, -4], ends=[1, -1, 1000])],
    [1, 5, 6], opset=7, elem=TensorProto.FLOAT)
add("slice_opset10_inputs", [node("Slice", ["x", "s", "e", "a"], ["y"])], [1, 3, 7],
    [init("s", ints(2, 1)), init("e", ints(-1, 3)), init("a", ints(2, 1))], opset=10)
add("slice_opset13_negative_steps", [node("Slice", ["x", "s", "e", "a", "t"], ["y"])], [1, 4, 9],
    [init("s", ints(-1, 0)), init("e", ints(INT64_MIN, INT64_MAX)), init("a", ints(-1, 1)), init("t", ints(-2, 3))])
add("slice_opset11_clamped_no_axes", [node("Slice", ["x", "s", "e"], ["y"])], [2, 5],
    [init("s", ints(-100, 2)), init("e", ints(INT64_MAX, 100))], opset=11)
add("slice_whole_tensor", [node("Slice", ["x", "s", "e"], ["y"])], [1, 6],
    [init("s", ints(0, 0)), init("e", ints(1, INT64_MAX))])

# ---- Split ------------------------------------------------------------------------------
add("split_opset11_attribute",
    [node("Split", ["x"], ["a", "b"], axis=1, split=[2, 4]), node("Concat", ["b", "a"], ["y"], axis=1)],
    [1, 6, 3], opset=11)
add("split_opset13_input_negative_axis",
    [node("Split", ["x", "s"], ["a", "b", "c"], axis=-1), node("Sub", ["a", "c"], ["d"]),
     node("Concat", ["d", "b"], ["y"], axis=-1)],
    [1, 2, 4], [init("s", ints(1, 2, 1))])
add("split_opset13_equal_parts_one_unused",
    [node("Split", ["x"], ["a", "b", "c"], axis=1), node("Add", ["a", "c"], ["y"])], [1, 6])
add("split_opset7_float", [node("Split", ["x"], ["a", "b"], axis=0, split=[1, 2]), node("Flatten", ["b"], ["y"])],
    [3, 2], opset=7, elem=TensorProto.FLOAT)

# ---- Gather -----------------------------------------------------------------------------
add("gather_axis1_negative_indices", [node("Gather", ["x", "i"], ["y"], axis=1)], [1, 5, 3], [init("i", ints(-1, 0, 2))])
add("gather_repeated_indices_matrix", [node("Gather", ["x", "i"], ["y"], axis=2)], [1, 2, 4],
    [init("i", np.array([[0, 3], [3, 3], [1, 0]], dtype=np.int64))])
add("gather_scalar_index", [node("Gather", ["x", "i"], ["y"], axis=2)], [1, 4, 3], [init("i", np.array(1, dtype=np.int64))])
add("gather_int32_indices_opset11_float", [node("Gather", ["x", "i"], ["y"])], [3, 2],
    [init("i", np.array([2, 0, 2], dtype=np.int32))], opset=11, elem=TensorProto.FLOAT)

# ---- Neg and constant folding -------------------------------------------------------------
add("neg_activation", [node("Neg", ["x"], ["n"]), node("Gemm", ["n", "w"], ["y"], transB=1)], [1, 3],
    [init("w", weights(2, 3))])
add("slice_of_shape_folded",
    [node("Shape", ["x"], ["s"]), node("Slice", ["s", "z", "two"], ["lead"]), node("Concat", ["lead", "m1"], ["t"], axis=0),
     node("Reshape", ["x", "t"], ["y"])],
    [1, 2, 3, 4], [init("z", ints(0)), init("two", ints(2)), init("m1", ints(-1))])
add("split_of_constant_folded",
    [node("Split", ["c"], ["c1", "c2"], axis=1, split=[2, 4]), node("Add", ["x", "c2"], ["y"])], [1, 4],
    [init("c", weights(1, 6))], opset=11)

# ---- A ReLU network through all of them, for bounds and verification -----------------------
add("relu_network_slice_split_gather",
    [node("Gemm", ["x", "w1", "b1"], ["g"], transB=1), node("Relu", ["g"], ["h"]),
     node("Split", ["h", "sizes"], ["p", "q"], axis=1),
     node("Slice", ["q", "s", "e", "a", "t"], ["r"]),
     node("Gather", ["p", "i"], ["pg"], axis=1), node("Neg", ["pg"], ["ng"]),
     node("Add", ["r", "ng"], ["u"]), node("Relu", ["u"], ["v"]),
     node("Gemm", ["v", "w2", "b2"], ["y"], transB=1)],
    [1, 6],
    [init("w1", weights(12, 6)), init("b1", weights(12) * 0.3), init("sizes", ints(5, 7)),
     init("s", ints(6)), init("e", ints(INT64_MIN)), init("a", ints(1)), init("t", ints(-2)),
     init("i", ints(4, 1, 1, 0)), init("w2", weights(3, 4)), init("b2", weights(3) * 0.3)])

with open(os.path.join(os.path.dirname(HERE), "structural_fixtures.json"), "w") as f:
    json.dump({"models": records}, f, indent=1)
    f.write("\n")


# ---- Models that must be refused -----------------------------------------------------------
def save_error(name, m):
    os.makedirs(ERRORS, exist_ok=True)
    onnx.save(m, os.path.join(ERRORS, name + ".onnx"))


save_error("several_unsupported_operators",
           model([node("Gemm", ["x", "w"], ["g"], transB=1), node("Sigmoid", ["g"], ["s1"], name="sig_a"),
                  node("Tanh", ["s1"], ["t"], name="tanh_a"), node("Sigmoid", ["t"], ["s2"], name="sig_b"),
                  node("Softmax", ["s2"], ["y"], name="")],
                 [1, 3], [init("w", weights(2, 3))]))
save_error("empty_slice", model([node("Slice", ["x", "s", "e"], ["y"], name="empty")], [1, 4],
                                [init("s", ints(0, 3)), init("e", ints(1, 1))]))
save_error("gather_index_out_of_range", model([node("Gather", ["x", "i"], ["y"], name="far", axis=1)], [1, 4],
                                              [init("i", ints(0, 4))]))
save_error("split_sizes_disagree", model([node("Split", ["x", "s"], ["y", "z"], name="uneven", axis=1)], [1, 4],
                                         [init("s", ints(1, 2))]))
print(f"{len(records)} models")
