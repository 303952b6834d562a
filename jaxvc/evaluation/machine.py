"""What a measurement ran on, recorded beside every benchmark and result figure."""
import os
import platform

import jax


def machine() -> dict:
  """The CPU, its cores, JAX's devices, backend and version."""
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
  except (OSError, StopIteration):
    pass
  return dict(cpu=cpu, cores=os.cpu_count(), devices=[str(d) for d in jax.devices()],
              backend=jax.default_backend(), jax=jax.__version__)


def describe(machine: dict) -> str:
  """`machine()` in words."""
  return (f"{machine['cpu']}, {machine['cores']} cores, JAX {machine['jax']} "
          f"on {machine['backend']}")
