// ONNX loader: see ONNXLoader.swift (in progress)
