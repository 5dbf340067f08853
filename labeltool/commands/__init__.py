"""One module per `labeltool` subcommand; each exposes ``register(subparsers)``."""
