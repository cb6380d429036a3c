"""Text to vectors: the Embedder protocol, sentence-transformers, and its ONNX export."""
