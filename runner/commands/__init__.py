"""One module per CLI command; each is a thin wrapper that calls the Python API and formats its result."""
