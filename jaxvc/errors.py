"""Config errors, reported to users in one line: `config.KEY: why`.

A leaf module, so that every part of jaxvc can check its settings (the audio
front-end, the data, each method, the trainer) without importing another.
"""


class ConfigError(ValueError):
  """A config file or override that cannot be used; the message says which."""


def require(ok: bool, key: str, why: str) -> None:
  """Raises ConfigError naming `config.KEY` and why, unless `ok`."""
  if not ok:
    raise ConfigError(f"config.{key}: {why}")
