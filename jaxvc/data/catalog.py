"""`tfds:NAME[:FEATURE=VALUE]` domains: a TFDS catalog dataset, the examples
selected by one feature, their one audio feature as float32 mono.

Apart from `jaxvc.data.domains`, which prepares and caches every kind of
domain: this module is only what a catalog dataset needs that a folder does
not (finding the dataset by name, selecting on nested features, decoding its
audio), so the two paths can change independently.
"""
import numpy as np

from jaxvc import audio
from jaxvc._tf import tf
from jaxvc.data.specs import Domain
from jaxvc.errors import ConfigError
import tensorflow_datasets as tfds


def find_builder(name: str):
  """The TFDS builder of catalog dataset `name`; ConfigError if there is none."""
  try:
    return tfds.builder(name)
  except tfds.core.registered.DatasetNotFoundError:
    raise ConfigError(f"domain 'tfds:{name}': no TFDS dataset of that name") from None


def waves(spec: str, domain: Domain, builder, split: str, sample_rate: int, read_config):
  """Yields the selected examples' audio as float32 mono at `sample_rate`,
  reading the split with `read_config`."""
  leaves = _leaf_features(builder.info.features)
  audio_names = [n for n, (_, f) in leaves.items() if isinstance(f, tfds.features.Audio)]
  if len(audio_names) != 1:
    raise ConfigError(f"domain {spec!r}: needs exactly one audio feature, "
                      f"the dataset has {audio_names or 'none'}")
  audio_path, audio_feature = leaves[audio_names[0]]
  if not audio_feature.sample_rate:
    raise ConfigError(f"domain {spec!r}: the dataset records no sample rate")
  try:
    examples = builder.as_dataset(split=split, read_config=read_config)
  except AssertionError:  # TFDS's way of saying that the data is not there.
    raise ConfigError(
        f"domain {spec!r}: {builder.info.full_name} is not prepared in "
        f"{builder.data_dir_root}; jaxvc never downloads: run `tfds build "
        f"{domain.name}` first") from None
  if domain.feature:
    examples = examples.filter(_selector(spec, domain, leaves, audio_names[0]))
  count = 0
  for example in tfds.as_numpy(examples):
    count += 1
    yield _to_float_mono(_get(example, audio_path), audio_feature.sample_rate, sample_rate)
  if not count:
    raise ConfigError(f"domain {spec!r}: no examples in split {split!r}")


def _leaf_features(features, prefix=()) -> dict[str, tuple[tuple[str, ...], object]]:
  """Name ("_"-joined path) -> (path, feature) for every non-dict feature."""
  leaves = {}
  for key, feature in features.items():
    path = (*prefix, key)
    if isinstance(feature, tfds.features.FeaturesDict):
      leaves.update(_leaf_features(feature, path))
    else:
      leaves["_".join(path)] = (path, feature)
  return leaves


def _selector(spec: str, domain: Domain, leaves: dict, audio_name: str):
  """A tf.data predicate keeping the examples where domain.feature == domain.value."""
  choices = sorted(set(leaves) - {audio_name})
  if domain.feature not in leaves or domain.feature == audio_name:
    raise ConfigError(f"domain {spec!r}: no feature {domain.feature!r} to select on; "
                      f"the features are {', '.join(choices)}")
  path, feature = leaves[domain.feature]
  if feature.shape:
    raise ConfigError(f"domain {spec!r}: cannot select on {domain.feature}, "
                      f"a feature of shape {feature.shape}")
  if isinstance(feature, tfds.features.ClassLabel):
    names = feature.names
    if domain.value in names:
      wanted = names.index(domain.value)
    elif domain.value.isdigit() and int(domain.value) < feature.num_classes:
      wanted = int(domain.value)
    else:
      raise ConfigError(f"domain {spec!r}: {domain.feature} has no class {domain.value!r}; "
                        f"the classes are {', '.join(names)}")
  elif feature.np_dtype.kind in "iu":
    if not domain.value.lstrip("-").isdigit():
      raise ConfigError(f"domain {spec!r}: {domain.feature} is an integer, "
                        f"not {domain.value!r}")
    wanted = int(domain.value)
  elif feature.np_dtype.kind in "OSU":
    wanted = domain.value
  else:
    raise ConfigError(f"domain {spec!r}: cannot select on {domain.feature} "
                      f"({type(feature).__name__} of {feature.np_dtype})")
  return lambda example: tf.equal(_get(example, path), wanted)


def _get(example, path):
  for key in path:
    example = example[key]
  return example


def _to_float_mono(wave: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
  """TFDS audio -> float32 mono; integer samples are 16-bit PCM (TFDS's decoding)."""
  scale = 1 / 32768 if np.issubdtype(wave.dtype, np.integer) else 1.0
  wave = wave.astype(np.float32) * np.float32(scale)
  if wave.ndim == 2:  # (length, channels)
    wave = wave.mean(axis=1)
  return audio.resample(wave, rate, sample_rate)
