#!/usr/bin/env python3
"""Builds the hidden-output fixtures of EvidentONNXTests (ONNXLoader.load(path:hiddenOutputs:)).

Models under `hidden/`:
  conv_bn_relu_gemm.onnx   float32, symbolic batch dimension "N"; Conv -> BatchNormalization ->
                           Relu -> Flatten -> Gemm, whose bias is an Add of two initializers
                           (folded at load time); value_info from onnx's shape inference.
  float64_cast.onnx        float64 input, Gemm in float64, Cast to float32, Relu; no value_info,
                           so the loader infers the hidden tensors' element types.
  initializers_as_inputs.onnx  ACAS Xu style: weights listed among graph.input, in an order
                           that differs from the initializer list.
`hidden_outputs.json` holds, per model, a seeded input and onnxruntime's value of every
tensor the tests ask for (the intermediate ones requested as extra onnxruntime outputs of an
in-memory copy of the model).

Run once from anywhere (needs numpy, onnx, onnxruntime):
    python3 Tests/EvidentONNXTests/Fixtures/make_hidden_output_fixtures.py
The Swift tests never run Python.
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hidden")
FLOAT = TensorProto.FLOAT
DOUBLE = TensorProto.DOUBLE
rng = np.random.default_rng(20250301)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def weights(*shape, dtype=np.float32, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def reference(m, feeds, names):
    """onnxruntime's value of every tensor in `names`, each requested as a graph output."""
    copy = onnx.ModelProto()
    copy.CopyFrom(m)
    inferred = onnx.shape_inference.infer_shapes(copy)
    types = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    present = {o.name for o in copy.graph.output}
    for name in names:
        if name not in present:
            copy.graph.output.append(types[name])
    session = ort.InferenceSession(copy.SerializeToString(), providers=["CPUExecutionProvider"])
    values = session.run(names, feeds)
    return {name: np.asarray(v, dtype=np.float64).flatten().tolist() for name, v in zip(names, values)}


os.makedirs(OUT, exist_ok=True)
records = []

# ---- conv_bn_relu_gemm: float32, symbolic batch, value_info present ----------------------
channels = 3
conv_bn = helper.make_graph(
    [helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["conv_out"], pads=[1, 1, 1, 1], name="conv"),
     helper.make_node("BatchNormalization", ["conv_out", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn_out"],
                      epsilon=1e-3, name="bn"),
     helper.make_node("Relu", ["bn_out"], ["relu_out"], name="relu"),
     helper.make_node("Flatten", ["relu_out"], ["flat"], name="flatten"),
     helper.make_node("Add", ["gemm_b_a", "gemm_b_b"], ["gemm_bias"], name="bias_sum"),
     helper.make_node("Gemm", ["flat", "gemm_w", "gemm_bias"], ["y"], transB=1, name="gemm")],
    "conv_bn_relu_gemm",
    [helper.make_tensor_value_info("x", FLOAT, ["N", 2, 5, 5])],
    [helper.make_tensor_value_info("y", FLOAT, ["N", 4])],
    initializer=[init("conv_w", weights(channels, 2, 3, 3)), init("conv_b", weights(channels)),
                 init("bn_scale", (1 + weights(channels, scale=0.3))), init("bn_bias", weights(channels)),
                 init("bn_mean", weights(channels)), init("bn_var", np.abs(weights(channels)) + np.float32(0.5)),
                 init("gemm_w", weights(4, channels * 25, scale=0.2)), init("gemm_b_a", weights(4)),
                 init("gemm_b_b", weights(4))])
m = helper.make_model(conv_bn, opset_imports=[helper.make_opsetid("", 13)], ir_version=7,
                      producer_name="evident-fixtures")
m = onnx.shape_inference.infer_shapes(m)
onnx.checker.check_model(m)
onnx.save(m, os.path.join(OUT, "conv_bn_relu_gemm.onnx"))
x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
records.append({"file": "hidden/conv_bn_relu_gemm.onnx", "input": x.astype(np.float64).flatten().tolist(),
                "tensors": reference(m, {"x": x}, ["y", "conv_out", "bn_out", "relu_out", "flat"])})

# ---- float64_cast: float64 input, an activation Cast to float32, no value_info -------------
cast = helper.make_graph(
    [helper.make_node("Gemm", ["x", "w", "b"], ["h64"], transB=1, name="gemm"),
     helper.make_node("Cast", ["h64"], ["h32"], to=FLOAT, name="to_float"),
     helper.make_node("Relu", ["h32"], ["y"], name="relu")],
    "float64_cast",
    [helper.make_tensor_value_info("x", DOUBLE, [1, 3])],
    [helper.make_tensor_value_info("y", FLOAT, [1, 4])],
    initializer=[init("w", weights(4, 3, dtype=np.float64)), init("b", weights(4, dtype=np.float64))])
m = helper.make_model(cast, opset_imports=[helper.make_opsetid("", 13)], ir_version=7, producer_name="evident-fixtures")
onnx.checker.check_model(m)
assert not m.graph.value_info
onnx.save(m, os.path.join(OUT, "float64_cast.onnx"))
x = rng.standard_normal((1, 3))
records.append({"file": "hidden/float64_cast.onnx", "input": x.flatten().tolist(),
                "tensors": reference(m, {"x": x}, ["y", "h64", "h32"])})

# ---- initializers_as_inputs: ACAS Xu style ---------------------------------------------------
acas_inits = [init("b0", weights(4)), init("w0", weights(4, 5)), init("w1", weights(2, 4)), init("b1", weights(2))]
listed = ["w0", "b0", "w1", "b1"]  # graph.input order: not the initializer order
by_name = {t.name: t for t in acas_inits}
acas = helper.make_graph(
    [helper.make_node("Gemm", ["x", "w0", "b0"], ["h"], transB=1),
     helper.make_node("Relu", ["h"], ["r"]),
     helper.make_node("Gemm", ["r", "w1", "b1"], ["y"], transB=1)],
    "initializers_as_inputs",
    [helper.make_tensor_value_info("x", FLOAT, [1, 5])]
    + [helper.make_tensor_value_info(n, FLOAT, list(by_name[n].dims)) for n in listed],
    [helper.make_tensor_value_info("y", FLOAT, [1, 2])],
    initializer=acas_inits)
m = helper.make_model(acas, opset_imports=[helper.make_opsetid("", 8)], ir_version=3, producer_name="evident-fixtures")
onnx.save(m, os.path.join(OUT, "initializers_as_inputs.onnx"))
x = rng.standard_normal((1, 5)).astype(np.float32)
records.append({"file": "hidden/initializers_as_inputs.onnx", "input": x.astype(np.float64).flatten().tolist(),
                "tensors": reference(m, {"x": x}, ["y", "h"])})

with open(os.path.join(HERE, "hidden_outputs.json"), "w") as f:
    json.dump({"generator": "make_hidden_output_fixtures.py", "onnx": onnx.__version__,
               "onnxruntime": ort.__version__, "models": records}, f, indent=1)
print(f"wrote {len(records)} hidden-output fixtures to {OUT}")
