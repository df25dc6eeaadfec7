"""benchlab: local-first benchmarks for models behind OpenAI-compatible endpoints."""

__version__ = "0.1.0"
