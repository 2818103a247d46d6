"""Model, skeleton geometry, windows and engines: no threads, no Qt, no file formats."""
