"""Campaigns: a TOML plan of endpoints, benchmarks and parameter grids, run resumably to the end,
finished with the paired comparisons the plan asks for."""
