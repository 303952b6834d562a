"""The `python -m jaxvc.infer` subcommands, one module each (see `jaxvc.infer`)."""
