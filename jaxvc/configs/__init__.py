"""The shipped configs: `python -m jaxvc.train --config NAME` (see `jaxvc.config`)."""
