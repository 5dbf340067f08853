"""labeltool's headless engine: datasets, networks, training, inference, metrics.

Nothing in this package imports Qt; the app in ``labeltool`` imports from here, never the reverse.
"""
