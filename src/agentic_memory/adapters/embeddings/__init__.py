"""Embedding adapters (the packaged MiniLM ONNX model)."""
