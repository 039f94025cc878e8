#!/usr/bin/env python3
"""Builds the ONNX operator fixtures of EvidentONNXTests and their onnxruntime outputs.

One small model per operator / attribute variant the loader converts, each run with
onnxruntime on a seeded random input; `operator_fixtures.json` records, per model, the
file, opset, input and output shapes, the flattened input and onnxruntime's flattened
output. Models under `errors/` are malformed on purpose (unsupported operator, data type,
opset, group; truncated file; ...) and have no outputs.

Run from anywhere (needs numpy, onnx, onnxruntime):
    python3 Tests/EvidentONNXTests/Fixtures/make_operator_fixtures.py
The output is deterministic for fixed library versions; the Swift tests never run Python.
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ERRORS = os.path.join(HERE, "errors")
FLOAT = TensorProto.FLOAT
DOUBLE = TensorProto.DOUBLE
INT64 = TensorProto.INT64
# IR version that goes with each opset (onnx's own table), so onnxruntime accepts the files.
IR_FOR_OPSET = {7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8}

rng = np.random.default_rng(20240611)


def weights(*shape, scale=0.5, dtype=np.float32):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def init(name, array):
    """An initializer stored in raw_data (numpy_helper's default)."""
    return numpy_helper.from_array(np.asarray(array), name)


def typed_init(name, array):
    """An initializer stored in the typed fields (float_data, int64_data, ...)."""
    array = np.asarray(array)
    dtype = helper.np_dtype_to_tensor_dtype(array.dtype)
    return helper.make_tensor(name, dtype, array.shape, array.flatten().tolist(), raw=False)


def model(nodes, input_shape, output_shape, initializers=(), opset=13, elem=FLOAT, input_name="x",
          output_name="y", extra_inputs=(), ir_version=None):
    graph = helper.make_graph(
        nodes, "fixture",
        [helper.make_tensor_value_info(input_name, elem, input_shape)] + list(extra_inputs),
        [helper.make_tensor_value_info(output_name, elem, output_shape)],
        initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=ir_version or IR_FOR_OPSET[opset], producer_name="evident-fixtures")


records = []


def add(name, m, input_shape, dtype=np.float32, concrete_shape=None, reference=False):
    """Saves the model, runs it with onnxruntime on a seeded input and records the result.

    `reference=True` runs onnx's own reference evaluator instead, for the few attribute
    combinations onnxruntime rejects although the specification defines them."""
    path = os.path.join(HERE, name + ".onnx")
    onnx.save(m, path)
    shape = concrete_shape or input_shape
    x = rng.standard_normal(shape).astype(dtype)
    if reference:
        from onnx.reference import ReferenceEvaluator
        (y,) = ReferenceEvaluator(m).run(None, {m.graph.input[0].name: x})
    else:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (y,) = session.run(None, {session.get_inputs()[0].name: x})
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    records.append({
        "name": name, "file": name + ".onnx", "opset": opset,
        "evaluator": "onnx.reference" if reference else "onnxruntime",
        "input_shape": list(shape), "output_shape": list(y.shape),
        "input": [float(v) for v in x.flatten()],
        "output": [float(v) for v in y.flatten()],
    })


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name or f"{op}_{outputs[0]}", **attrs)


# ---- Conv -------------------------------------------------------------------------------

add("conv_asymmetric_pads",
    model([node("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 2, 1], kernel_shape=[3, 3])],
          [1, 2, 7, 6], [1, 3, 8, 5], [init("w", weights(3, 2, 3, 3)), init("b", weights(3))], opset=11),
    [1, 2, 7, 6])
add("conv_strides_dilations",
    model([node("Conv", ["x", "w"], ["y"], strides=[2, 3], dilations=[2, 1], pads=[1, 1, 1, 1])],
          [1, 2, 9, 9], None, [init("w", weights(4, 2, 3, 2))], opset=13),
    [1, 2, 9, 9])
add("conv_depthwise",
    model([node("Conv", ["x", "w", "b"], ["y"], group=3, pads=[1, 1, 1, 1])],
          [1, 3, 6, 6], None, [init("w", weights(3, 1, 3, 3)), init("b", weights(3))], opset=13),
    [1, 3, 6, 6])
add("conv_depthwise_multiplier",
    model([node("Conv", ["x", "w"], ["y"], group=2, strides=[2, 2])],
          [1, 2, 7, 7], None, [init("w", weights(4, 1, 3, 3))], opset=9),
    [1, 2, 7, 7])
for mode in ["SAME_UPPER", "SAME_LOWER", "VALID"]:
    add(f"conv_auto_pad_{mode.lower()}",
        model([node("Conv", ["x", "w", "b"], ["y"], auto_pad=mode, strides=[2, 2])],
              [1, 2, 7, 8], None, [init("w", weights(3, 2, 4, 3)), init("b", weights(3))], opset=11),
        [1, 2, 7, 8])

# onnxruntime rejects dilations with SAME padding; the specification defines them
# (total padding (out - 1) * stride + (kernel - 1) * dilation + 1 - in).
# Here the total padding is odd along H (1) and even along W (2).
add("conv_same_upper_dilated",
    model([node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", dilations=[2, 2], strides=[2, 2])],
          [1, 1, 6, 5], None, [init("w", weights(2, 1, 2, 2))], opset=11),
    [1, 1, 6, 5], reference=True)

# ---- Gemm -------------------------------------------------------------------------------

add("gemm_transB_bias",
    model([node("Gemm", ["x", "w", "b"], ["y"], transB=1)], [1, 6], [1, 4],
          [init("w", weights(4, 6)), init("b", weights(4))], opset=9),
    [1, 6])
add("gemm_transA_alpha_beta",
    model([node("Gemm", ["x", "w", "c"], ["y"], transA=1, alpha=0.5, beta=2.0)], [6, 1], [1, 4],
          [init("w", weights(6, 4)), init("c", weights(1, 4))], opset=11),
    [6, 1])
add("gemm_full_C",
    model([node("Gemm", ["x", "w", "c"], ["y"], alpha=1.5, beta=-0.5)], [2, 3], [2, 4],
          [init("w", weights(3, 4)), init("c", weights(2, 4))], opset=13),
    [2, 3])
add("gemm_scalar_C_no_bias_rows",
    model([node("Gemm", ["x", "w", "c"], ["y"], transB=1)], [3, 5], [3, 2],
          [init("w", weights(2, 5)), init("c", np.array(0.25, dtype=np.float32))], opset=13),
    [3, 5])
add("gemm_column_C",
    model([node("Gemm", ["x", "w", "c"], ["y"])], [3, 5], [3, 2],
          [init("w", weights(5, 2)), init("c", weights(3, 1))], opset=13),
    [3, 5])
add("gemm_constant_A",
    model([node("Gemm", ["a", "x", "c"], ["y"], alpha=1.5)], [5, 2], [3, 2],
          [init("a", weights(3, 5)), init("c", weights(3, 1))], opset=13),
    [5, 2])
add("gemm_constant_A_transposes_full_C",
    model([node("Gemm", ["a", "x", "c"], ["y"], transA=1, transB=1, beta=0.75)], [2, 5], [3, 2],
          [init("a", weights(5, 3)), init("c", weights(3, 2))], opset=13),
    [2, 5])
add("gemm_no_C",
    model([node("Gemm", ["x", "w"], ["y"], transB=1)], [1, 4], [1, 3], [init("w", weights(3, 4))], opset=13),
    [1, 4])

# ---- MatMul -----------------------------------------------------------------------------

add("matmul_activation_first",
    model([node("MatMul", ["x", "w"], ["y"])], [1, 2, 5], [1, 2, 3], [init("w", weights(5, 3))], opset=13),
    [1, 2, 5])
add("matmul_constant_first_vector",
    model([node("MatMul", ["w", "x"], ["h"]), node("Add", ["h", "b"], ["y"])], [4], [3],
          [init("w", weights(3, 4)), init("b", weights(3))], opset=14),
    [4])
add("matmul_constant_first_matrix",
    model([node("MatMul", ["w", "x"], ["y"])], [4, 2], [3, 2], [init("w", weights(3, 4))], opset=13),
    [4, 2])
add("matmul_constant_vector_first",
    model([node("MatMul", ["w", "x"], ["y"])], [1, 4, 2], [1, 2], [init("w", weights(4))], opset=13),
    [1, 4, 2])
add("matmul_activation_times_vector",
    model([node("MatMul", ["x", "w"], ["y"])], [2, 4], [2], [init("w", weights(4))], opset=13),
    [2, 4])
add("matmul_constant_batch_of_one",
    model([node("MatMul", ["w", "x"], ["y"])], [4, 2], [1, 3, 2], [init("w", weights(1, 3, 4))], opset=13),
    [4, 2])

# ---- Elementwise with constants ---------------------------------------------------------

add("add_broadcast_channels",
    model([node("Add", ["x", "c"], ["y"])], [1, 3, 2, 2], [1, 3, 2, 2], [init("c", weights(3, 1, 1))], opset=13),
    [1, 3, 2, 2])
add("mul_broadcast_last_axis",
    model([node("Mul", ["c", "x"], ["y"])], [1, 3, 4], [1, 3, 4], [init("c", weights(4))], opset=13),
    [1, 3, 4])
add("div_broadcast",
    model([node("Div", ["x", "c"], ["y"])], [1, 3, 2, 2], [1, 3, 2, 2],
          [init("c", np.array([0.5, -2.0, 4.0], dtype=np.float32).reshape(1, 3, 1, 1))], opset=13),
    [1, 3, 2, 2])
add("sub_activation_minus_constant",
    model([node("Sub", ["x", "c"], ["y"])], [2, 3], [2, 3], [init("c", weights(2, 1))], opset=13),
    [2, 3])
add("sub_constant_minus_activation",
    model([node("Sub", ["c", "x"], ["y"])], [2, 3], [2, 3], [init("c", weights(3))], opset=13),
    [2, 3])
add("add_grows_leading_axes",
    model([node("Add", ["x", "c"], ["y"])], [3, 4], [1, 1, 3, 4], [init("c", weights(1, 1, 1, 4))], opset=13),
    [3, 4])

# ---- Two activations --------------------------------------------------------------------

add("residual_add",
    model([node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), node("Relu", ["c"], ["r"]),
           node("Add", ["r", "x"], ["s"]), node("Sub", ["s", "r"], ["y"], name="sub_two_activations")],
          [1, 2, 4, 4], [1, 2, 4, 4], [init("w", weights(2, 2, 3, 3)), init("b", weights(2))], opset=13),
    [1, 2, 4, 4])

# ---- BatchNormalization -----------------------------------------------------------------


def batchnorm_inits(c):
    return [init("gamma", weights(c)), init("beta", weights(c)), init("mean", weights(c)),
            init("var", (rng.random(c) + 0.5).astype(np.float32))]


add("batchnorm_opset13",
    model([node("BatchNormalization", ["x", "gamma", "beta", "mean", "var"], ["y"], epsilon=1e-3)],
          [1, 3, 2, 3], [1, 3, 2, 3], batchnorm_inits(3), opset=13),
    [1, 3, 2, 3])
add("batchnorm_opset7_default_epsilon",
    model([node("BatchNormalization", ["x", "gamma", "beta", "mean", "var"], ["y"], spatial=1, momentum=0.9)],
          [1, 3, 4], [1, 3, 4], batchnorm_inits(3), opset=7),
    [1, 3, 4])

# ---- Shapes -----------------------------------------------------------------------------

add("flatten_axis2",
    model([node("Flatten", ["x"], ["y"], axis=2)], [1, 2, 3, 4], [2, 12], opset=13),
    [1, 2, 3, 4])
add("flatten_negative_axis_then_gemm",
    model([node("Flatten", ["x"], ["f"], axis=-3), node("Gemm", ["f", "w"], ["y"], transB=1)],
          [1, 2, 3, 2], [1, 2], [init("w", weights(2, 12))], opset=13),
    [1, 2, 3, 2])
add("reshape_zero_and_minus_one",
    model([node("Reshape", ["x", "s"], ["r"]), node("Relu", ["r"], ["y"])],
          [1, 2, 3, 4], [1, 6, 4], [init("s", np.array([0, -1, 4], dtype=np.int64))], opset=13),
    [1, 2, 3, 4])
add("reshape_allowzero",
    model([node("Reshape", ["x", "s"], ["y"], allowzero=1)],
          [1, 2, 6], [3, 4, 1], [init("s", np.array([3, 4, 1], dtype=np.int64))], opset=14),
    [1, 2, 6])
add("transpose_perm_and_default",
    model([node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]), node("Transpose", ["t"], ["y"])],
          [1, 2, 3, 4], [2, 4, 3, 1], opset=13),
    [1, 2, 3, 4])
add("squeeze_unsqueeze_opset11",
    model([node("Squeeze", ["x"], ["s"], axes=[2]), node("Unsqueeze", ["s"], ["u"], axes=[0, -1]),
           node("Squeeze", ["u"], ["y"])],
          [1, 3, 1, 4], [3, 4], opset=11),
    [1, 3, 1, 4])
add("squeeze_unsqueeze_opset13",
    model([node("Squeeze", ["x", "sa"], ["s"]), node("Unsqueeze", ["s", "ua"], ["y"])],
          [1, 3, 1, 4], [3, 1, 4, 1],
          [init("sa", np.array([0, 2], dtype=np.int64)), init("ua", np.array([1, -1], dtype=np.int64))], opset=13),
    [1, 3, 1, 4])
add("concat_negative_axis",
    model([node("Conv", ["x", "w1"], ["a"]), node("Conv", ["x", "w2"], ["b"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
           node("Concat", ["a", "b", "x"], ["y"], axis=-3)],
          [1, 2, 4, 4], [1, 7, 4, 4], [init("w1", weights(3, 2, 1, 1)), init("w2", weights(2, 2, 3, 3))], opset=13),
    [1, 2, 4, 4])

# ---- Pooling ----------------------------------------------------------------------------

for include in [0, 1]:
    add(f"averagepool_padded_count_include_pad_{include}",
        model([node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                    count_include_pad=include)],
              [1, 2, 5, 6], None, opset=13),
        [1, 2, 5, 6])
add("averagepool_unpadded",
    model([node("AveragePool", ["x"], ["y"], kernel_shape=[2, 3], strides=[2, 1])], [1, 2, 5, 6], None, opset=9),
    [1, 2, 5, 6])
add("averagepool_ceil_mode_equivalent",
    model([node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)],
          [1, 1, 7, 5], None, opset=13),
    [1, 1, 7, 5])
add("averagepool_same_upper",
    model([node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")],
          [1, 1, 6, 5], None, opset=13),
    [1, 1, 6, 5])
add("global_averagepool",
    model([node("GlobalAveragePool", ["x"], ["y"])], [1, 3, 4, 5], [1, 3, 1, 1], opset=13),
    [1, 3, 4, 5])
add("maxpool_padded",
    model([node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2])],
          [1, 2, 5, 5], None, opset=12),
    [1, 2, 5, 5])
add("maxpool_dilated_opset10",
    model([node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], dilations=[2, 2])], [1, 1, 5, 5], None, opset=10),
    [1, 1, 5, 5])

# ---- Pad --------------------------------------------------------------------------------

add("pad_opset10_attribute",
    model([node("Pad", ["x"], ["y"], pads=[0, 0, 1, 2, 0, 1, 0, 1], mode="constant", value=0.0)],
          [1, 2, 3, 3], None, opset=10),
    [1, 2, 3, 3])
add("pad_opset13_input",
    model([node("Pad", ["x", "p"], ["y"])], [1, 2, 3, 3], None,
          [init("p", np.array([0, 1, 2, 0, 0, 0, 1, 3], dtype=np.int64))], opset=13),
    [1, 2, 3, 3])

# ---- Aliases and folding ----------------------------------------------------------------

add("identity_dropout",
    model([node("Identity", ["x"], ["i"]), node("Dropout", ["i", "ratio"], ["d"]), node("Relu", ["d"], ["y"])],
          [1, 5], [1, 5], [init("ratio", np.array(0.3, dtype=np.float32))], opset=13),
    [1, 5])
add("dropout_opset7_identity_output",
    model([node("Dropout", ["x"], ["d"], ratio=0.2), node("Identity", ["d"], ["y"])], [1, 5], [1, 5], opset=7),
    [1, 5])

# PyTorch-style flatten: Shape -> Gather -> Unsqueeze -> Concat -> Reshape, plus Cast,
# Constant (value / value_float / value_ints), and constant arithmetic.
shape_nodes = [
    node("Shape", ["x"], ["shape"]),
    node("Constant", [], ["zero"], value=helper.make_tensor("zero_t", INT64, [], [0])),
    node("Gather", ["shape", "zero"], ["batch"], axis=0),
    node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
    node("Constant", [], ["minus_one"], value_ints=[-1]),
    node("Concat", ["batch1", "minus_one"], ["target"], axis=0),
    node("Reshape", ["x", "target"], ["flat"]),
    node("Constant", [], ["half"], value_float=0.5),
    node("Cast", ["two_int"], ["two"], to=FLOAT),
    node("Mul", ["half", "two"], ["one"]),
    node("Transpose", ["w"], ["wt"], perm=[1, 0]),
    node("Mul", ["wt", "one"], ["w_scaled"]),
    node("Identity", ["w_scaled"], ["w_final"]),
    node("MatMul", ["flat", "w_final"], ["y"]),
]
add("constant_folded_shape_subgraph",
    model(shape_nodes, ["N", 2, 3], ["N", 3],
          [init("axes0", np.array([0], dtype=np.int64)), init("two_int", np.array(2, dtype=np.int64)),
           init("w", weights(3, 6))], opset=13),
    ["N", 2, 3], concrete_shape=[1, 2, 3])

add("double_precision",
    model([node("Gemm", ["x", "w", "b"], ["h"], transB=1), node("Relu", ["h"], ["r"]),
           node("MatMul", ["r", "w2"], ["y"])],
          [1, 4], [1, 2], [init("w", weights(5, 4, dtype=np.float64)), init("b", weights(5, dtype=np.float64)),
                           init("w2", weights(5, 2, dtype=np.float64))], opset=13, elem=DOUBLE),
    [1, 4], dtype=np.float64)

add("raw_and_typed_initializers",
    model([node("Gemm", ["x", "w_typed", "b_raw"], ["h"], transB=1), node("Reshape", ["h", "s_typed"], ["r"]),
           node("Add", ["r", "c_typed_double_free"], ["y"])],
          [1, 3], [1, 2, 2],
          [typed_init("w_typed", weights(4, 3)), init("b_raw", weights(4)),
           typed_init("s_typed", np.array([1, 2, 2], dtype=np.int64)),
           typed_init("c_typed_double_free", weights(2, 1))], opset=13),
    [1, 3])

# ACAS Xu style: initializers listed as graph inputs too, IR version 3, opset 8.
acas_inits = [init("mean", weights(1, 1, 1, 5)), init("W", weights(5, 4)), init("B", weights(4))]
acas = model([node("Sub", ["x", "mean"], ["s"]), node("Flatten", ["s"], ["f"]), node("MatMul", ["f", "W"], ["m"]),
              node("Add", ["m", "B"], ["y"])],
             [1, 1, 1, 5], [1, 4], acas_inits, opset=8,
             extra_inputs=[helper.make_tensor_value_info(t.name, FLOAT, list(t.dims)) for t in acas_inits])
add("initializers_as_graph_inputs", acas, [1, 1, 1, 5])

with open(os.path.join(HERE, "operator_fixtures.json"), "w") as f:
    json.dump({"generator": "make_operator_fixtures.py", "onnx": onnx.__version__,
               "onnxruntime": ort.__version__, "models": records}, f, indent=1)

# ---- Reference outputs of the shared benchmark networks --------------------------------
# Input element i is float32(0.5 * sin(0.1 * i)), which the Swift test recomputes, so only
# the outputs are stored.

BENCHMARKS = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared", "benchmarks"))
benchmark_records = []
if os.path.isdir(BENCHMARKS):
    for root, _, files in sorted(os.walk(BENCHMARKS)):
        for file in sorted(files):
            if not file.endswith(".onnx"):
                continue
            path = os.path.join(root, file)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            info = session.get_inputs()[0]
            shape = [d if isinstance(d, int) else 1 for d in info.shape]
            x = (0.5 * np.sin(0.1 * np.arange(int(np.prod(shape))))).astype(np.float32).reshape(shape)
            (y,) = session.run(None, {info.name: x})
            benchmark_records.append({"file": os.path.relpath(path, BENCHMARKS), "input_shape": shape,
                                      "output": [float(v) for v in y.flatten()]})
    with open(os.path.join(HERE, "benchmark_outputs.json"), "w") as f:
        json.dump({"input": "float32(0.5 * sin(0.1 * i))", "models": benchmark_records}, f, indent=1)

# ---- Malformed models (errors/) ---------------------------------------------------------

os.makedirs(ERRORS, exist_ok=True)


def save_error(name, m):
    onnx.save(m, os.path.join(ERRORS, name + ".onnx"))


save_error("unsupported_operator_sigmoid",
           model([node("Gemm", ["x", "w"], ["h"], transB=1), node("Sigmoid", ["h"], ["y"], name="my_sigmoid")],
                 [1, 3], [1, 2], [init("w", weights(2, 3))], opset=13))
save_error("float16_initializer",
           model([node("Mul", ["x", "w_half"], ["y"], name="mul_half")], [1, 3], [1, 3],
                 [init("w_half", weights(3).astype(np.float16))], opset=13))
save_error("opset_6", model([node("Relu", ["x"], ["y"])], [1, 3], [1, 3], opset=6, ir_version=3))
save_error("opset_22", model([node("Relu", ["x"], ["y"])], [1, 3], [1, 3], opset=13, ir_version=9))
m22 = onnx.load(os.path.join(ERRORS, "opset_22.onnx"))
m22.opset_import[0].version = 22
save_error("opset_22", m22)
save_error("conv_group_3_of_4",
           model([node("Conv", ["x", "w"], ["y"], group=3, name="grouped_conv")], [1, 4, 5, 5], None,
                 [init("w", weights(6, 2, 3, 3))], opset=13))
save_error("division_by_activation",
           model([node("Div", ["c", "x"], ["y"], name="c_over_x")], [1, 3], [1, 3], [init("c", weights(3))], opset=13))
save_error("product_of_activations",
           model([node("Mul", ["x", "x"], ["y"], name="square")], [1, 3], [1, 3], opset=13))
save_error("second_graph_input_integer",
           model([node("Add", ["x", "z"], ["y"])], [1, 3], [1, 3], opset=13,
                 extra_inputs=[helper.make_tensor_value_info("z", INT64, [1, 3])]))
bad_raw = init("w", weights(2, 3))
bad_raw.raw_data = bad_raw.raw_data[:-4]
save_error("raw_data_too_short",
           model([node("Gemm", ["x", "w"], ["y"], transB=1)], [1, 3], [1, 2], [bad_raw], opset=13))
save_error("dropout_mask_used",
           model([node("Dropout", ["x"], ["d", "mask"], name="drop"), node("Cast", ["mask"], ["y"], to=FLOAT)],
                 [1, 3], [1, 3], opset=11))
save_error("maxpool_ceil_mode",
           model([node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, name="pool_ceil")],
                 [1, 1, 5, 5], None, opset=13))
save_error("pad_reflect_single_element",
           model([node("Pad", ["x", "p"], ["y"], mode="reflect", name="reflect_pad")], [1, 1, 1, 3], None,
                 [init("p", np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64))], opset=13))
save_error("unknown_attribute",
           model([node("Relu", ["x"], ["y"], name="relu_alpha", alpha=0.1)], [1, 3], [1, 3], opset=13))
save_error("symbolic_feature_dimension", model([node("Relu", ["x"], ["y"])], ["N", "F"], ["N", "F"], opset=13))
external = init("w", weights(2, 3))
external.ClearField("raw_data")
external.data_location = TensorProto.EXTERNAL
external.external_data.add(key="location", value="weights.bin")
save_error("external_data",
           model([node("Gemm", ["x", "w"], ["y"], transB=1)], [1, 3], [1, 2], [external], opset=13))
save_error("ir_version_2", model([node("Relu", ["x"], ["y"])], [1, 3], [1, 3], opset=7, ir_version=2))
custom = model([node("Relu", ["x"], ["y"])], [1, 3], [1, 3], opset=13)
custom.graph.node[0].domain = "com.microsoft"
custom.graph.node[0].name = "custom_relu"
custom.opset_import.append(helper.make_opsetid("com.microsoft", 1))
save_error("custom_domain", custom)
save_error("integer_input", model([node("Relu", ["x"], ["y"])], [1, 3], [1, 3], opset=13, elem=INT64))
save_error("pads_crop_everything",
           model([node("Pad", ["x", "p"], ["y"], name="crop")], [1, 1, 3, 3], None,
                 [init("p", np.array([0, 0, -2, 0, 0, 0, -1, 0], dtype=np.int64))], opset=13))
save_error("conv_3d",
           model([node("Conv", ["x", "w"], ["y"], name="conv3d")], [1, 2, 3, 3, 5], None,
                 [init("w", weights(3, 2, 1, 1, 2))], opset=13))
save_error("declared_output_shape_disagrees",
           model([node("Flatten", ["x"], ["y"])], [1, 2, 3], [1, 5], opset=13))
# A valid model cut after half of its bytes.
valid = model([node("Gemm", ["x", "w", "b"], ["y"], transB=1)], [1, 16], [1, 16],
              [init("w", weights(16, 16)), init("b", weights(16))], opset=13).SerializeToString()
with open(os.path.join(ERRORS, "truncated.onnx"), "wb") as f:
    f.write(valid[: len(valid) // 2])

print(f"wrote {len(records)} operator fixtures and the error models to {HERE}")
