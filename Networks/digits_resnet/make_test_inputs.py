#!/usr/bin/env python3
"""Writes the first 16 held-out test images of digits_resnet's split as network inputs, for
EVA's comparison with baseline explainers (Docs/eva.md): test_inputs/test_K.txt holds test
image K (64 numbers in [0, 1], 8 lines of 8, as example_input.txt) and test_inputs/labels.csv
its label. The split is train.py's (same data, seed and fraction; see ../README.md), so
test_0.txt equals example_input.txt. Needs numpy and scikit-learn (requirements.txt).
Run from this folder: python3 make_test_inputs.py"""
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20240531       # as in train.py
TEST_FRACTION = 0.2   # as in train.py
COUNT = 16

digits = load_digits()
x = (digits.data.astype(np.float32) / 16.0).reshape(-1, 8, 8)
y = digits.target.astype(np.int64)
_, idx_test = train_test_split(np.arange(len(y)), test_size=TEST_FRACTION, random_state=SEED, stratify=y)
os.makedirs("test_inputs", exist_ok=True)
with open("test_inputs/labels.csv", "w") as labels:
    labels.write("file,dataset_index,label\n")
    for k in range(COUNT):
        i = int(idx_test[k])
        with open(f"test_inputs/test_{k}.txt", "w") as f:
            for row in x[i]:
                f.write(" ".join(repr(float(v)) for v in row) + "\n")
        labels.write(f"test_{k}.txt,{i},{int(y[i])}\n")
