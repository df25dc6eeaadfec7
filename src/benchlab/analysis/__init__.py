"""Statistics and aggregation over benchmark results."""
