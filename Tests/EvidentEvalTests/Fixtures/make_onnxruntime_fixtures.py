#!/usr/bin/env python3
"""Generate onnxruntime reference outputs for EvidentEval's forward-evaluation tests.

For every (onnx, vnnlib) instance of the shared benchmarks (acasxu, cifar10_resnet,
oval21, test) and of the project's own Specs/instances.csv, and for every input
region (box) of the property, evaluates the network with onnxruntime at the
box centre and at 3 seeded random corners. Inputs are not stored: each record
holds the recipe to rebuild its point from the vnnlib box (see README.md here).

Precision: the model is first converted to float64 (initializers, Constant
tensors, graph inputs/outputs/value_info, Cast-to-float) and run in float64; if
onnxruntime's CPU provider has no double kernel for some operator (Conv), the
original float32 model is used and the input is rounded to float32.

Usage (from the repository root):
    python3 Tests/EvidentEvalTests/Fixtures/make_onnxruntime_fixtures.py \
        [--benchmarks ../shared/benchmarks] [--compare]

--compare prints, per model, the largest difference between float32 and float64
evaluations over all points (onnxruntime float32 vs onnxruntime float64 where
both exist, otherwise onnxruntime float32 vs a float64 torch re-implementation
of the graph); nothing of it is stored.
"""

import argparse
import csv
import json
import os
import re
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUTPUT = os.path.join(HERE, "onnxruntime_outputs.json")
BENCHMARK_CSVS = [
    "acasxu/instances.csv",
    "cifar10_resnet/instances.csv",
    "oval21/instances.csv",
    "test/test_instances.csv",
]
OWN_CSV = "Specs/instances.csv"
CORNERS = 3


# ----------------------------------------------------------------------------- VNN-LIB

def tokenize(text):
    text = re.sub(r";[^\n]*", " ", text)
    return re.findall(r"\(|\)|[^\s()]+", text)


def parse_sexprs(tokens):
    stack = [[]]
    for tok in tokens:
        if tok == "(":
            stack.append([])
        elif tok == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise ValueError("unbalanced parentheses")
    return stack[0]


def input_index(term):
    if isinstance(term, str):
        m = re.fullmatch(r"X_(\d+)", term)
        if m:
            return int(m.group(1))
    return None


def mentions_input(term):
    if isinstance(term, str):
        return input_index(term) is not None
    return any(mentions_input(t) for t in term)


def apply_bound(box, comparison):
    """Apply one (<=|>=|= a b) with one side X_i and the other a number."""
    op, a, b = comparison
    ia, ib = input_index(a), input_index(b)
    if ia is not None and ib is None:
        index, value, var_left = ia, float(b), True
    elif ib is not None and ia is None:
        index, value, var_left = ib, float(a), False
    else:
        raise ValueError(f"not a box constraint: {comparison}")
    lo, hi = box.get(index, (-np.inf, np.inf))
    is_upper = (op == "<=") == var_left
    if op == "=":
        lo, hi = max(lo, value), min(hi, value)
    elif is_upper:
        hi = min(hi, value)
    else:
        lo = max(lo, value)
    box[index] = (lo, hi)


def apply_conjunct(boxes, term):
    """Applies a conjunct mentioning inputs to every box; returns the new box list."""
    if not mentions_input(term):
        return boxes
    head = term[0]
    if head in ("<=", ">=", "="):
        for box in boxes:
            apply_bound(box, term)
        return boxes
    if head == "and":
        for sub in term[1:]:
            boxes = apply_conjunct(boxes, sub)
        return boxes
    if head == "or":
        result = []
        for box in boxes:
            for disjunct in term[1:]:
                result += apply_conjunct([dict(box)], disjunct)
        return result
    raise ValueError(f"unsupported term {head}")


def vnnlib_regions(path):
    """Input boxes of a VNN-LIB property, in the order documented in README.md."""
    with open(path) as f:
        exprs = parse_sexprs(tokenize(f.read()))
    n_inputs = 0
    boxes = [{}]
    for expr in exprs:
        if expr[0] == "declare-const":
            index = input_index(expr[1])
            if index is not None:
                n_inputs = max(n_inputs, index + 1)
        elif expr[0] == "assert":
            boxes = apply_conjunct(boxes, expr[1])
    regions = []
    for box in boxes:
        lower = np.array([box.get(i, (-np.inf, np.inf))[0] for i in range(n_inputs)])
        upper = np.array([box.get(i, (-np.inf, np.inf))[1] for i in range(n_inputs)])
        if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper)) and np.all(lower <= upper)):
            raise ValueError(f"{path}: region without finite bounds on every input")
        regions.append((lower, upper))
    return regions


# ----------------------------------------------------------------------------- points

def corner_hex(bits):
    """Hex string of the integer sum(bits[i] << i), exactly ceil(n/4) digits."""
    n = len(bits)
    digits = []
    for k in range((n + 3) // 4):
        nibble = 0
        for b in range(4):
            i = 4 * k + b
            if i < n and bits[i]:
                nibble |= 1 << b
        digits.append("0123456789abcdef"[nibble])
    return "".join(reversed(digits))


def corner_from_hex(text, lower, upper):
    n = len(lower)
    value = int(text, 16)
    bits = np.array([(value >> i) & 1 for i in range(n)], dtype=bool)
    return np.where(bits, upper, lower)


def region_points(vnnlib_rel, region, lower, upper):
    """[(label, float64 point)]: the centre, then min(CORNERS, 2^n) distinct seeded random corners."""
    points = [("centre", (lower + upper) / 2)]
    seed = zlib.crc32(f"{vnnlib_rel}#{region}".encode())
    rng = np.random.default_rng(seed)
    wanted = min(CORNERS, 2 ** min(len(lower), 16))
    seen = set()
    while len(seen) < wanted:
        bits = rng.integers(0, 2, size=len(lower)).astype(bool)
        label = corner_hex(bits)
        if label in seen:
            continue
        seen.add(label)
        point = corner_from_hex(label, lower, upper)
        assert np.array_equal(point, np.where(bits, upper, lower))
        points.append((label, point))
    return points


# ----------------------------------------------------------------------------- models

def to_float64(model):
    """A copy of model with every float32 tensor and type turned into float64."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    for i, t in enumerate(graph.initializer):
        if t.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    return model


class Model:
    def __init__(self, path):
        self.path = path
        self.proto = onnx.load(path)
        inits = {t.name for t in self.proto.graph.initializer}
        inputs = [i for i in self.proto.graph.input if i.name not in inits]
        assert len(inputs) == 1, path
        self.input_name = inputs[0].name
        self.shape = [d.dim_value if d.dim_value > 0 else 1 for d in inputs[0].type.tensor_type.shape.dim]
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        self.f32 = ort.InferenceSession(self.proto.SerializeToString(), options, providers=providers)
        try:
            self.f64 = ort.InferenceSession(to_float64(self.proto).SerializeToString(), options, providers=providers)
            self.f64.run(None, {self.input_name: np.zeros(self.shape, dtype=np.float64)})
            self.failure = None
        except Exception as error:  # onnxruntime has no double kernel for some operator
            self.f64 = None
            self.failure = str(error).split("\n")[0]

    @property
    def precision(self):
        return "float64" if self.f64 is not None else "float32"

    def run32(self, point):
        x = point.astype(np.float32).reshape(self.shape)
        return self.f32.run(None, {self.input_name: x})[0].astype(np.float64).reshape(-1)

    def run64(self, point):
        x = point.astype(np.float64).reshape(self.shape)
        return self.f64.run(None, {self.input_name: x})[0].reshape(-1)

    def run(self, point):
        return self.run64(point) if self.f64 is not None else self.run32(point)


def torch_float64(proto):
    """Float64 torch re-implementation of the operators in the benchmark graphs (for --compare)."""
    import torch
    import torch.nn.functional as F

    w = {t.name: torch.from_numpy(numpy_helper.to_array(t).astype(np.float64)) for t in proto.graph.initializer}

    def attr(node, name, default):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def run(x):
        env = {}
        inits = set(w)
        env[[i.name for i in proto.graph.input if i.name not in inits][0]] = torch.from_numpy(x)
        for node in proto.graph.node:
            a = [env[n] if n in env else w[n] for n in node.input]
            op = node.op_type
            if op == "Conv":
                pads = attr(node, "pads", [0, 0, 0, 0])
                assert pads[:2] == pads[2:]
                out = F.conv2d(a[0], a[1], a[2] if len(a) > 2 else None, stride=attr(node, "strides", [1, 1]),
                               padding=pads[:2], dilation=attr(node, "dilations", [1, 1]), groups=attr(node, "group", 1))
            elif op == "BatchNormalization":
                out = F.batch_norm(a[0], a[3], a[4], a[1], a[2], False, 0.0, attr(node, "epsilon", 1e-5))
            elif op == "Relu":
                out = F.relu(a[0])
            elif op in ("Add", "Sub", "MatMul"):
                out = {"Add": torch.add, "Sub": torch.sub, "MatMul": torch.matmul}[op](a[0], a[1])
            elif op == "Flatten":
                out = torch.flatten(a[0], attr(node, "axis", 1))
            elif op == "Gemm":
                A = a[0].T if attr(node, "transA", 0) else a[0]
                B = a[1].T if attr(node, "transB", 0) else a[1]
                out = attr(node, "alpha", 1.0) * (A @ B)
                if len(a) > 2:
                    out = out + attr(node, "beta", 1.0) * a[2]
            else:
                raise ValueError(op)
            env[node.output[0]] = out
        return env[proto.graph.output[0].name].numpy().reshape(-1)

    return run


# ----------------------------------------------------------------------------- main

def instances(benchmarks):
    """(onnx key, vnnlib key, onnx path, vnnlib path) for every instance, in CSV order."""
    rows = []
    for rel in BENCHMARK_CSVS:
        folder = os.path.dirname(rel)
        with open(os.path.join(benchmarks, rel)) as f:
            for row in csv.reader(f):
                if not row or row[0].strip() in ("", "onnx"):
                    continue
                onnx_key = os.path.normpath(os.path.join(folder, row[0].strip()))
                vnn_key = os.path.normpath(os.path.join(folder, row[1].strip()))
                rows.append((onnx_key, vnn_key, os.path.join(benchmarks, onnx_key), os.path.join(benchmarks, vnn_key)))
    with open(os.path.join(ROOT, OWN_CSV)) as f:
        for row in csv.reader(f):
            if not row or row[0].strip() in ("", "onnx"):
                continue
            # Paths relative to the csv (VNN-COMP's convention); keys relative to the repository.
            onnx_path, vnn_path = (os.path.normpath(os.path.join(ROOT, os.path.dirname(OWN_CSV), c.strip())) for c in row[:2])
            rows.append((os.path.relpath(onnx_path, ROOT), os.path.relpath(vnn_path, ROOT), onnx_path, vnn_path))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmarks", default=os.path.join(ROOT, "..", "shared", "benchmarks"))
    parser.add_argument("--output", default=OUTPUT)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()

    models = {}
    regions_cache = {}
    records = []
    diffs = {}
    torch_runs = {}
    for onnx_key, vnn_key, onnx_path, vnn_path in instances(args.benchmarks):
        if onnx_key not in models:
            models[onnx_key] = Model(onnx_path)
        model = models[onnx_key]
        if vnn_key not in regions_cache:
            regions_cache[vnn_key] = vnnlib_regions(vnn_path)
        for region, (lower, upper) in enumerate(regions_cache[vnn_key]):
            assert len(lower) == int(np.prod(model.shape)), (onnx_key, vnn_key)
            for label, point in region_points(vnn_key, region, lower, upper):
                outputs = model.run(point)
                records.append({
                    "onnx": onnx_key, "vnnlib": vnn_key, "region": region, "point": label,
                    "precision": model.precision, "outputs": [float(v) for v in outputs],
                })
                if args.compare:
                    # Same input as the float32 run (rounded to float32), evaluated in float64:
                    # what a Double evaluator checked against a float32 reference computes.
                    rounded = point.astype(np.float32).astype(np.float64)
                    if model.f64 is not None:
                        reference, source = model.run64(rounded), "onnxruntime float64"
                    else:
                        if onnx_key not in torch_runs:
                            torch_runs[onnx_key] = torch_float64(model.proto)
                        reference = torch_runs[onnx_key](rounded.reshape(model.shape))
                        source = "torch float64"
                    d = np.abs(model.run32(point) - reference)
                    rel = d / np.maximum(np.abs(reference), 1e-6)
                    old = diffs.get(onnx_key, (source, 0.0, 0.0, 0.0))
                    diffs[onnx_key] = (source, max(old[1], float(d.max())), max(old[2], float(np.abs(reference).max())),
                                       max(old[3], float((d / np.maximum(1e-5 * np.abs(reference), 1e-6)).max())))

    document = {
        "generator": "Tests/EvidentEvalTests/Fixtures/make_onnxruntime_fixtures.py",
        "onnxruntime": ort.__version__,
        "benchmarks_root": "../shared/benchmarks",
        "corners_per_region": CORNERS,
        "records": records,
    }
    with open(args.output, "w") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")

    print(f"{len(records)} records -> {os.path.relpath(args.output)} ({os.path.getsize(args.output)} bytes)")
    for key, model in models.items():
        line = f"  {key}: {model.precision}"
        if model.failure:
            line += f"  ({model.failure[:100]})"
        print(line)
    if args.compare:
        print("max |float32 - float64| per model (max |output|, max ratio to the 1e-5 rel / 1e-6 abs tolerance):")
        for key, (source, d, mag, ratio) in diffs.items():
            print(f"  {key}: {d:.3e} vs {source} (max |y| {mag:.3g}, tolerance ratio {ratio:.2f})")


if __name__ == "__main__":
    main()
