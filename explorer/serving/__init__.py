"""The chosen pipeline as an HTTP service: ``python -m explorer serve --pipeline FILE``."""
