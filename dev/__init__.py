"""The maintainers' tools: BUILD's generator, mutation testing, the checks of
the tree and the docs. Run as modules from the root: `python -m dev.NAME`."""
