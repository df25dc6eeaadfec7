"""Test helpers that ship with benchlab.

``benchlab.testing.scripted_server`` is an OpenAI-compatible HTTP server that answers from a script.
It exists so that scores can be asserted exactly, faults (status codes, disconnects, stalls, cut
streams, malformed bodies) can be injected deterministically, and the harness's own overhead can be
measured against a server that costs next to nothing. It never stands in for a real model server in
the integration tests; those start a real llama.cpp server.
"""
