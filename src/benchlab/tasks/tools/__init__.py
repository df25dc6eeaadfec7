"""Tool calling and agents (DESIGN §5 toolcall and agent): domain environments, the single-turn
`toolcall` rubric and the multi-turn `agent` loop."""
