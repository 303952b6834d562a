"""TensorFlow for tf.data only.

Every jaxvc module imports TensorFlow through here, so TF never claims a GPU
that JAX should have, and its start-up chatter stays quiet.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tf.data needs none of oneDNN's fused kernels, and enabling them logs a notice
# on every start.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# TensorFlow's import eagerly loads Keras (for its SavedModel registry) unless
# that import fails, which it tolerates: Keras and the scikit-learn wrappers
# it pulls in are a third of TF's import time and nothing tf.data uses. The
# block is lifted right after, so a user's own `import keras` still works.
_KERAS_EAGER_LOAD = "keras.src.optimizers"
_blocked = _KERAS_EAGER_LOAD not in sys.modules
if _blocked:
  sys.modules[_KERAS_EAGER_LOAD] = None
try:
  import tensorflow as tf  # noqa: E402
finally:
  if _blocked:
    del sys.modules[_KERAS_EAGER_LOAD]

tf.config.set_visible_devices([], "GPU")

__all__ = ["tf"]
