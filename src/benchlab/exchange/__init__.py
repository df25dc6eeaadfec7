"""Exchange: the versioned results envelope, exports to files, and importers from other tools."""
