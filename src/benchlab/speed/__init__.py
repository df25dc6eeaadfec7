"""The speed suite (DESIGN §7): how fast a server is for given prompts, context lengths and loads.

Modules by job: `workload` builds prompts of known token counts, `measure` turns one streamed request
into figures, `aggregate` summarizes many (percentiles, throughput, the knee of a sweep),
`server_truth` reads the server's own figures, `host` samples the machine, `profiles` drives the
quick/context/concurrency/rate sweeps, `record` stores a sweep as a run, `scores` rates it and
`plots` draws it.
"""
