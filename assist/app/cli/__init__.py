"""The command line: ``main`` builds the parser; one module per command group; ``common`` holds the shared helpers."""
