"""Embedding adapters (the packaged MiniLM ONNX model)."""

# Here rather than in onnx.py (which needs numpy): LazyEmbedder knows the width before the model loads,
# so a Lambda container that only greets callers never imports the embedding stack.
MINILM_DIM = 384  # the packaged model's output width
