#!/usr/bin/env python3
"""Checks VNN-COMP results files the way the competition scores them.

Follows the competition's scoring code, reimplemented here (no code copied):
  * ChristopherBrix/vnncomp2023_results, SCORING/counterexamples.py at commit
    1d7bb238e299feede279a63d6506d8fedcb77c87 (get_ce_diff, is_specification_vio) with the
    tolerances of SCORING/settings.py there (COUNTEREXAMPLE_ATOL = 1e-4,
    COUNTEREXAMPLE_RTOL = 1e-3) and the result words of SCORING/process_results.py
    (Settings.CSV_SUBSTITUTIONS);
  * the VNN-LIB reader that file imports, read_vnnlib_simple / get_io_nodes of
    ChristopherBrix/vnncomp2022_results SCORING/vnnlib.py at commit
    30c2b7f4f4ec7f9228f818257f26a25779babcab;
  * the harness ChristopherBrix/vnncomp2023_benchmarks run_single_instance.sh at commit
    5dc64f38a8ee48351a6d462f9b178c80ada8e4be for how a results file becomes a result word and
    a counterexample file (first line without whitespace; for `sat` the lines after it).

What is checked for a `sat` file, as the competition does it:
  1. the counterexample `((X_0 v) ... (Y_0 w) ...)` parses: X_i and Y_j each numbered from 0
     in order (else `malformed_ce`; an empty one is `no_ce`);
  2. the X values, as the network's input dtype and reshaped (row-major) to its input shape
     (dimensions 0 read as 1), are run through onnxruntime; the L-inf difference between its
     flattened output and the file's Y values, divided by the L-inf norm of the Y values (not
     divided when that norm is < 1e-6), must be <= 1e-3 (else `exec_doesnt_match`);
  3. the property, read as input boxes each with a disjunction of conjunctions
     `mat @ y <= rhs`, must be violated: for some box with lb - 1e-4 <= X <= ub + 1e-4, some
     conjunction must hold for the file's Y values with slack 1e-4 (else `spec_not_violated`).
A property outside the subset the competition's reader accepts is `unsupported_vnnlib`.

Differences from the competition's code: onnxruntime runs with the CPU provider and one
thread (the 2023 code uses the default session; later competition code pins the CPU
provider); a wrong input size is reported as `wrong_shape` instead of an exception; nothing
is cached; `.gz` files are read in memory instead of being extracted next to them. The
brief's "rtol 1e-3 / atol 1e-4" are the competition's two constants: RTOL bounds the
relative L-inf output difference (2022 used an absolute bound 1e-4 instead; it is printed
as `abs_diff` for reference), ATOL is the input-box and output-property slack.

Usage:
  check_results.py ONNX VNNLIB RESULTS [ONNX VNNLIB RESULTS ...]
      RESULTS: a results file (first line the result word) or a bare counterexample file.
      Exits 1 if a result word is invalid or a sat counterexample fails.
  check_results.py --score RUNS_CSV --ground-truth CSV --benchmarks DIR [--tolerance S]
      Scores a harness-test.sh run (see harness-test.sh for the columns of RUNS_CSV).
Needs numpy, onnx, onnxruntime.
"""
import argparse
import csv
import gzip
import math
import os
import sys
from collections import OrderedDict, defaultdict

import numpy as np

ATOL = 1e-4  # input box and output property slack (Settings.COUNTEREXAMPLE_ATOL)
RTOL = 1e-3  # relative L-inf output difference (Settings.COUNTEREXAMPLE_RTOL)
HARNESS_TOLERANCE = 60.0  # run_single_instance.sh kills run_instance.sh at TIMEOUT + 60 s

# Result-word normalisation of process_results.py: (prefix, word) in order.
SUBSTITUTIONS = [
    ("unsat", "holds"),
    ("sat", "violated"),
    ("no_result_in_file", "unknown"),
    ("prepare_instance_error_", "unknown"),
    ("run_instance_timeout", "timeout"),
    ("prepare_instance_timeout", "timeout"),
    ("error_exit_code_", "error"),
    ("error_nonmaximal", "unknown"),
]
SCORED_WORDS = {"holds", "violated", "timeout", "error", "unknown"}
TOOL_WORDS = {"sat", "unsat", "unknown", "timeout", "error", "holds", "violated"}

CORRECT = "correct"


class CheckError(Exception):
    """A counterexample or property that fails a check; args[0] is the status."""


def read_bytes(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def read_text(path):
    return read_bytes(path).decode("utf-8")


def normalise_word(word):
    """The result word as process_results.py maps it (lower case, prefix substitutions)."""
    word = word.lower()
    for prefix, replacement in SUBSTITUTIONS:
        if word == "":
            word = "unknown"
        elif word.startswith(prefix):
            word = replacement
    if word.startswith("timeout"):
        word = "timeout"
    return word


def split_results(text):
    """(result word, counterexample text) the way run_single_instance.sh splits out.txt."""
    lines = text.split("\n")
    if lines and lines[0].startswith("sat ("):  # the harness's `sed 's/^sat (/sat\n(/'`
        lines = ["sat", lines[0][4:]] + lines[1:]
    word = "".join(lines[0].split()) if lines else ""
    return word, "\n".join(lines[1:])


# --- the counterexample -------------------------------------------------------------------

def parse_counterexample(text):
    """Lists of X and Y values; mirrors the string handling of get_ce_diff."""
    content = text.replace("\n", " ").strip()
    if len(content) < 2:
        raise CheckError("no_ce", "no counterexample in the file")
    if not (content.startswith("(") and content.endswith(")")):
        raise CheckError("malformed_ce", "counterexample does not start with '(' and end with ')'")
    xs, ys = [], []
    for piece in content[1:-1].split(")"):
        piece = piece.strip()
        if not piece:
            continue
        while "  " in piece:
            piece = piece.replace("  ", " ")
        if not piece.startswith("("):
            raise CheckError("malformed_ce", f"expected '(' at {piece[:30]!r}")
        fields = piece[1:].split(" ")
        if len(fields) != 2:
            raise CheckError("malformed_ce", f"expected (NAME VALUE), got {piece[:40]!r}")
        name, value = fields
        kind = name[:2]
        if kind not in ("X_", "Y_"):
            raise CheckError("malformed_ce", f"variable {name!r} is neither X_i nor Y_j")
        target = xs if kind == "X_" else ys
        try:
            index = int(name[2:])
            number = float(value)
        except ValueError as e:
            raise CheckError("malformed_ce", f"bad entry {piece[:40]!r}: {e}") from e
        if index != len(target):
            raise CheckError("malformed_ce", f"{name} out of order (expected {kind}{len(target)})")
        target.append(number)
    return xs, ys


# --- the network --------------------------------------------------------------------------

class Network:
    """The ONNX model with the competition's view of its single input and output."""

    def __init__(self, path):
        import onnx
        import onnxruntime as ort

        self.model = onnx.load_model_from_string(read_bytes(path))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            self.model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if len(inputs) != 1 or len(outputs) != 1:
            raise CheckError("unsupported_network", f"expected one input and one output, got {inputs}, {outputs}")
        graph = self.model.graph
        self.input_name = inputs[0]
        inp = next(n for n in graph.input if n.name == inputs[0])
        out = next(n for n in graph.output if n.name == outputs[0])
        # As get_io_nodes: the dtype is that of the graph's first declared input.
        elem = graph.input[0].type.tensor_type.elem_type
        if elem not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
            raise CheckError("unsupported_network", f"input element type {elem} is not float or double")
        self.dtype = np.float32 if elem == onnx.TensorProto.FLOAT else np.float64
        self.input_shape = tuple(d.dim_value if d.dim_value != 0 else 1 for d in inp.type.tensor_type.shape.dim)
        output_shape = tuple(d.dim_value if d.dim_value != 0 else 1 for d in out.type.tensor_type.shape.dim)
        self.num_inputs = int(np.prod(self.input_shape)) if self.input_shape else 1
        self.num_outputs = int(np.prod(output_shape)) if output_shape else 1

    def run(self, xs):
        x = np.array(xs, dtype=self.dtype)
        if x.size != self.num_inputs:
            raise CheckError("wrong_shape", f"{x.size} X values for input shape {self.input_shape}")
        x = x.reshape(self.input_shape, order="C")
        return self.session.run(None, {self.input_name: x})[0].flatten("C")


# --- the property (the VNN-LIB 1.0 subset of read_vnnlib_simple) ----------------------------

def sexprs(text):
    """Top-level S-expressions of a VNN-LIB file as nested lists of atoms."""
    out, stack = [], []
    for line in text.split("\n"):
        line = line.split(";", 1)[0]
        for token in line.replace("(", " ( ").replace(")", " ) ").split():
            if token == "(":
                stack.append([])
            elif token == ")":
                if not stack:
                    raise CheckError("unsupported_vnnlib", "mismatched parenthesis")
                done = stack.pop()
                (stack[-1] if stack else out).append(done)
            elif stack:
                stack[-1].append(token)
            else:
                raise CheckError("unsupported_vnnlib", f"atom {token!r} outside parentheses")
    if stack:
        raise CheckError("unsupported_vnnlib", "unclosed parenthesis")
    return out


def is_comparison(e):
    return isinstance(e, list) and len(e) == 3 and e[0] in ("<=", ">=") and all(isinstance(a, str) for a in e[1:])


def new_region(num_inputs):
    return {"box": [[-math.inf, math.inf] for _ in range(num_inputs)], "rows": [], "rhs": []}


def apply_comparison(region, comparison, num_inputs, num_outputs):
    """Adds `(op first second)` to a region as update_rv_tuple does."""
    op, first, second = comparison
    try:
        if first.startswith("X_"):
            index = int(first[2:])
            if second.startswith(("X", "Y")):
                raise CheckError("unsupported_vnnlib", f"input constraints must be box constraints: ({op} {first} {second})")
            if not 0 <= index < num_inputs:
                raise CheckError("unsupported_vnnlib", f"{first} out of range (network has {num_inputs} inputs)")
            limits = region["box"][index]
            if op == "<=":
                limits[1] = min(float(second), limits[1])
            else:
                limits[0] = max(float(second), limits[0])
            if limits[0] > limits[1]:
                raise CheckError("unsupported_vnnlib", f"{first} range is empty: {limits}")
            return
        if op == ">=":
            first, second = second, first
        row = [0.0] * num_outputs
        rhs = 0.0
        if first.startswith("Y_") and second.startswith("Y_"):
            row[int(first[2:])] = 1.0
            row[int(second[2:])] = -1.0
        elif first.startswith("Y_"):
            row[int(first[2:])] = 1.0
            rhs = float(second)
        elif second.startswith("Y_"):
            row[int(second[2:])] = -1.0
            rhs = -float(first)
        else:
            raise CheckError("unsupported_vnnlib", f"unsupported constraint ({' '.join(comparison)})")
    except (ValueError, IndexError) as e:
        raise CheckError("unsupported_vnnlib", f"bad constraint ({' '.join(comparison)}): {e}") from e
    region["rows"].append(row)
    region["rhs"].append(rhs)


def read_property(path, num_inputs, num_outputs):
    """List of (box, [(mat, rhs), ...]): input boxes, each with its disjunction of
    conjunctions mat @ y <= rhs, merged by box like read_vnnlib_simple."""
    regions = [new_region(num_inputs)]
    for form in sexprs(read_text(path)):
        if (len(form) == 3 and form[0] == "declare-const" and isinstance(form[1], str)
                and form[1].startswith(("X_", "Y_")) and form[2] == "Real"):
            continue
        if len(form) == 2 and form[0] == "assert" and is_comparison(form[1]):
            for region in regions:
                apply_comparison(region, form[1], num_inputs, num_outputs)
            continue
        body = form[1] if len(form) == 2 and form[0] == "assert" else None
        if not (isinstance(body, list) and len(body) >= 2 and body[0] == "or" and all(
                isinstance(c, list) and len(c) >= 2 and c[0] == "and" and all(is_comparison(a) for a in c[1:])
                for c in body[1:])):
            raise CheckError("unsupported_vnnlib", f"statement outside the competition's VNN-LIB subset: {form!r:.80}")
        product = []
        for region in regions:
            for conjunct in body[1:]:
                copy = {"box": [list(b) for b in region["box"]], "rows": [list(r) for r in region["rows"]],
                        "rhs": list(region["rhs"])}
                for comparison in conjunct[1:]:
                    apply_comparison(copy, comparison, num_inputs, num_outputs)
                product.append(copy)
        regions = product
    merged = OrderedDict()
    for region in regions:
        key = tuple(tuple(b) for b in region["box"])
        merged.setdefault(key, []).append((region["rows"], region["rhs"]))
    result = []
    for box, specs in merged.items():
        for d, (lb, ub) in enumerate(box):
            if lb == -math.inf or ub == math.inf:
                raise CheckError("unsupported_vnnlib", f"input X_{d} is unbounded: {[lb, ub]}")
        result.append((box, [(np.array(r, dtype=float).reshape(len(r), num_outputs), np.array(h, dtype=float))
                             for r, h in specs]))
    return result


def property_violated(regions, xs, ys, tol):
    """(violated, message) as is_specification_vio: X in a box, a conjunction holds for Y."""
    y = np.array(ys, dtype=float)
    for i, (box, specs) in enumerate(regions):
        if len(box) != len(xs):
            raise CheckError("wrong_shape", f"property has {len(box)} inputs, counterexample {len(xs)}")
        if any(x < lb - tol or x > ub + tol for (lb, ub), x in zip(box, xs)):
            continue
        for j, (mat, rhs) in enumerate(specs):
            if mat.shape[1] != len(y):
                raise CheckError("wrong_shape", f"property has {mat.shape[1]} outputs, counterexample {len(y)}")
            if np.all(mat.dot(y) <= rhs + tol):
                worst = float(np.max(mat.dot(y) - rhs)) if len(rhs) else 0.0
                return True, f"X in box {i}, conjunction {j} holds (max row slack {worst:.3g})"
    return False, "no input box contains X with a conjunction that holds for Y"


def check_counterexample(onnx_path, vnnlib_path, ce_text):
    """(status, message) for a counterexample; status CORRECT or a failure class."""
    try:
        xs, ys = parse_counterexample(ce_text)
        net = Network(onnx_path)
        out = net.run(xs)
        expected = np.array(ys, dtype=float)
        try:
            diff = float(np.linalg.norm(out - expected, ord=np.inf))
            norm = float(np.linalg.norm(expected, ord=np.inf))
            rel = 0.0 if norm < 1e-6 else diff / norm
        except ValueError as e:
            return "exec_doesnt_match", f"{len(ys)} Y values for {out.size} outputs ({e})"
        msg = f"rel_diff {rel:.3g} (limit {RTOL:g}), abs_diff {diff:.3g}"
        if rel > RTOL:
            return "exec_doesnt_match", msg
        regions = read_property(vnnlib_path, net.num_inputs, net.num_outputs)
        violated, why = property_violated(regions, xs, ys, ATOL)
        return (CORRECT if violated else "spec_not_violated"), f"{msg}; {why}"
    except CheckError as e:
        return e.args[0], e.args[1]


def check_file(onnx_path, vnnlib_path, path):
    """(ok, line) for one results or counterexample file."""
    text = read_text(path)
    if text.lstrip().startswith("("):
        word, ce = "sat", text
    else:
        word, ce = split_results(text)
    scored = normalise_word(word)
    if word.lower() not in TOOL_WORDS or scored not in SCORED_WORDS:
        return False, f"{path}: invalid result word {word!r} (scored as {scored!r})"
    if scored != "violated":
        return True, f"{path}: {word} (scored {scored}); nothing to check"
    status, msg = check_counterexample(onnx_path, vnnlib_path, ce)
    return status == CORRECT, f"{path}: sat, counterexample {status}: {msg}"


# --- scoring a harness-test.sh run ---------------------------------------------------------

def rel_key(path, benchmarks):
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(benchmarks))
    return rel[:-3] if rel.endswith(".gz") else rel


def score(args):
    truth = {}
    with open(args.ground_truth, newline="") as f:
        for row in csv.DictReader(f):
            truth[(os.path.normpath(row["onnx"]), os.path.normpath(row["vnnlib"]))] = row["result"]
    with open(args.score, newline="") as f:
        runs = list(csv.DictReader(f))

    stats = defaultdict(lambda: defaultdict(float))
    order, problems = [], []
    overhead = math.inf
    for run in runs:
        cat, kind = run["category"], run["kind"]
        word_raw, runtime, timeout = run["result"], float(run["runtime"]), float(run["timeout"])
        scored = normalise_word(word_raw)
        name = f"{cat} {os.path.basename(run['onnx'])} {os.path.basename(run['vnnlib'])}"
        if scored in ("holds", "violated"):
            overhead = min(overhead, runtime)
        if kind == "overhead":
            stats[cat]["overhead_run"] = runtime
            continue
        if cat not in order:
            order.append(cat)
        s = stats[cat]
        s["instances"] += 1
        if runtime >= 0:  # -1: run_instance.sh did not run (prepare failed)
            s["wall_total"] += runtime
            s["wall_max"] = max(s["wall_max"], runtime)
            s["overrun_max"] = max(s.get("overrun_max", -math.inf), runtime - timeout)
        if runtime > timeout:
            s["over_timeout"] += 1
        if runtime > timeout + args.tolerance:
            problems.append(f"{name}: {runtime:.2f} s exceeds the timeout {timeout:g} s by more than {args.tolerance:g} s")
        if word_raw.lower() not in TOOL_WORDS or scored not in SCORED_WORDS:
            s["invalid"] += 1
            problems.append(f"{name}: result {word_raw!r} is not a tool result word (scored {scored!r})")
            continue
        expected = truth.get((rel_key(run["onnx"], args.benchmarks), rel_key(run["vnnlib"], args.benchmarks)))
        if scored == "violated":
            s["ce_checked"] += 1
            ce_path = run["counterexample"]
            ce_text = read_text(ce_path) if ce_path and os.path.exists(ce_path) else ""
            status, msg = check_counterexample(run["onnx"], run["vnnlib"], ce_text)
            print(f"  counterexample {name}: {status}: {msg}")
            if status != CORRECT:
                s["ce_failed"] += 1
                problems.append(f"{name}: counterexample {status}: {msg}")
                continue
            s["ce_passed"] += 1
        if scored in ("holds", "violated"):
            answer = "unsat" if scored == "holds" else "sat"
            if expected is None or expected == "unknown":
                s["unjudged"] += 1
            elif expected == answer:
                s["correct"] += 1
                s[f"correct_{answer}"] += 1
            else:
                s["wrong"] += 1
                problems.append(f"{name}: answered {answer}, ground truth {expected}")
        else:
            s[scored] += 1

    total = defaultdict(float)
    header = (f"{'category':<10} {'inst':>4} {'correct':>7} {'(sat/unsat)':>11} {'wrong':>5} {'unknown':>7} "
              f"{'timeout':>7} {'error':>5} {'invalid':>7} {'cex ok/chk':>10} {'wall sum':>9} {'wall max':>8} "
              f"{'max t-T':>11}")
    print("\nsummary")
    print(header)
    for cat in order + ["total"]:
        if cat == "total":
            s = total
        else:
            s = stats[cat]
            for k, v in s.items():
                if k in ("wall_max", "overrun_max"):
                    total[k] = max(total.get(k, -math.inf), v)
                elif k != "overhead_run":
                    total[k] += v
        print(f"{cat:<10} {int(s['instances']):>4} {int(s['correct']):>7} "
              f"{int(s['correct_sat']):>5}/{int(s['correct_unsat']):<5} {int(s['wrong']):>5} {int(s['unknown']):>7} "
              f"{int(s['timeout']):>7} {int(s['error']):>5} {int(s['invalid']):>7} "
              f"{int(s['ce_passed']):>4}/{int(s['ce_checked']):<5} {s['wall_total']:>8.2f}s {s['wall_max']:>7.2f}s "
              f"{s.get('overrun_max', 0.0):>10.2f}s")
    for cat in order:
        if "overhead_run" in stats[cat]:
            print(f"overhead run (test_nano, after {cat}): {stats[cat]['overhead_run']:.3f} s")
    if overhead < math.inf:
        print(f"overhead as the scorer computes it (fastest solved run): {overhead:.3f} s")
    print(f"runs over their timeout: {int(total['over_timeout'])}; harness tolerance: timeout + {args.tolerance:g} s")
    if total["unjudged"]:
        print(f"answers without a ground truth: {int(total['unjudged'])}")
    if problems:
        print(f"\nFAILED: {len(problems)} problem(s)")
        for p in problems:
            print(f"  {p}")
        return 1
    print("\nPASSED: no wrong answer, no invalid result, every counterexample correct, no overrun beyond the tolerance")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="ONNX VNNLIB RESULTS triples")
    parser.add_argument("--score", metavar="RUNS_CSV")
    parser.add_argument("--ground-truth")
    parser.add_argument("--benchmarks")
    parser.add_argument("--tolerance", type=float, default=HARNESS_TOLERANCE,
                        help="seconds a run may exceed its timeout (default: the harness's 60)")
    args = parser.parse_args()
    if args.score:
        if not (args.ground_truth and args.benchmarks):
            parser.error("--score needs --ground-truth and --benchmarks")
        return score(args)
    if not args.files or len(args.files) % 3:
        parser.error("expected ONNX VNNLIB RESULTS triples")
    failed = 0
    for i in range(0, len(args.files), 3):
        ok, line = check_file(*args.files[i:i + 3])
        print(("ok   " if ok else "FAIL ") + line)
        failed += not ok
    print(f"{len(args.files) // 3 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
