"""TensorFlow for tf.data only.

Every jaxvc module imports TensorFlow through here, so TF never claims a GPU
that JAX should have, and its start-up chatter stays quiet.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tf.data needs none of oneDNN's fused kernels, and enabling them logs a notice
# on every start.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf  # noqa: E402

tf.config.set_visible_devices([], "GPU")

__all__ = ["tf"]
