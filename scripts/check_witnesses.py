#!/usr/bin/env python3
"""Checks VNN-COMP counterexample files independently of Evident, the way the competition does.

For each (model, property, witness) triple: reads the witness `((X_0 v) ... (Y_0 w) ...)`
(a results file's first line `sat` is skipped), runs the model with onnxruntime on the CPU
(float32, as the competition does), requires onnxruntime's outputs to match the witness's Y
values within 1e-3 relative / 1e-4 absolute tolerance, and evaluates the property's
assertions (an independent S-expression evaluator written here, not Evident's parser) on
the witness's X and Y: every assertion must hold, input bounds included (exactly, no
tolerance). Exits 1 if any witness fails.

Usage: scripts/check_witnesses.py MODEL PROPERTY WITNESS [MODEL PROPERTY WITNESS ...]
Needs: numpy, onnx, onnxruntime (pip). `.gz` models and properties are read too.
"""
import gzip
import re
import sys
from fractions import Fraction

import numpy as np
import onnxruntime


def read_text(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return f.read()


def read_bytes(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def tokens(text):
    text = re.sub(r";[^\n]*", "", text)
    return re.findall(r"\(|\)|[^\s()]+", text)


def parse(tokens_list):
    """S-expressions as nested lists."""
    stack = [[]]
    for t in tokens_list:
        if t == "(":
            stack.append([])
        elif t == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(t)
    return stack[0]


def read_witness(path):
    text = read_text(path)
    pairs = re.findall(r"\(\s*([XY])_(\d+)\s+([^\s()]+)\s*\)", text)
    xs, ys = {}, {}
    for kind, index, value in pairs:
        (xs if kind == "X" else ys)[int(index)] = value
    x = [xs[i] for i in range(len(xs))]
    y = [ys[i] for i in range(len(ys))]
    return x, y


def evaluate(expr, values):
    """Exact evaluation with rationals: terms give Fractions, formulas give booleans."""
    if isinstance(expr, str):
        if expr in values:
            return values[expr]
        return Fraction(expr)
    head, args = expr[0], expr[1:]
    if head == "and":
        return all(evaluate(a, values) for a in args)
    if head == "or":
        return any(evaluate(a, values) for a in args)
    if head in ("<=", ">=", "<", ">", "="):
        v = [evaluate(a, values) for a in args]
        ops = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
               ">": lambda a, b: a > b, "=": lambda a, b: a == b}[head]
        return all(ops(v[i], v[i + 1]) for i in range(len(v) - 1))
    if head == "+":
        return sum((evaluate(a, values) for a in args), Fraction(0))
    if head == "-":
        v = [evaluate(a, values) for a in args]
        return -v[0] if len(v) == 1 else v[0] - sum(v[1:], Fraction(0))
    if head == "*":
        out = Fraction(1)
        for a in args:
            out *= evaluate(a, values)
        return out
    raise ValueError(f"unsupported function {head}")


def check(model, prop, witness):
    x_text, y_text = read_witness(witness)
    session = onnxruntime.InferenceSession(read_bytes(model), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    x = np.array([float(v) for v in x_text], dtype=np.float32).reshape(shape)
    y_ort = np.asarray(session.run(None, {inp.name: x})[0], dtype=np.float64).reshape(-1)
    y_file = np.array([float(v) for v in y_text], dtype=np.float64)
    if y_ort.shape != y_file.shape:
        return False, f"the witness has {y_file.size} outputs, the model {y_ort.size}"
    if not np.allclose(y_ort, y_file, rtol=1e-3, atol=1e-4):
        return False, f"onnxruntime outputs {y_ort} differ from the witness's {y_file}"
    values = {f"X_{i}": Fraction(v) for i, v in enumerate(x_text)}
    values.update({f"Y_{i}": Fraction(v) for i, v in enumerate(y_text)})
    for form in parse(tokens(read_text(prop))):
        if form and form[0] == "assert" and not evaluate(form[1], values):
            return False, f"assertion {form[1]} does not hold at the witness"
    return True, f"max |y_ort - y| = {np.max(np.abs(y_ort - y_file)):.3g}"


def main(argv):
    if len(argv) < 3 or len(argv) % 3:
        print(__doc__)
        return 2
    failures = 0
    for k in range(0, len(argv), 3):
        ok, detail = check(*argv[k:k + 3])
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {argv[k + 2]}: {detail}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
