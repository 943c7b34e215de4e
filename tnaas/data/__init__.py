"""The data layer: corpora (bundled and uploaded), the bounded file reader, tokens."""
