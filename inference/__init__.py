"""Qt-free, torch-free core: garment schema, ONNX Runtime inference, keypoint decoding."""
