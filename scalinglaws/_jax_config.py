"""Process-wide JAX settings the package needs, applied only when asked (never on import).

- **float64**: the order-parameter theories and the closed-form generalisation errors need it (in
  float32 the closed-form eps_g loses all digits once the student is close to the teacher).
  Functions that need it call `require_float64`, which raises a clear error instead of silently
  computing in float32.
- **XLA's concurrency-optimised CPU scheduler off**: with jax 0.10.2 the stiff solver's batched
  structured solve hung on CPU once the batch times the number of eigen-blocks reached 4096 (for
  example 4 seeds at L = 1024); with the flag off it runs normally (`benchmarks/block_ode.py`).

- **CPU devices**: on a CPU, JAX shows one device unless asked for more; a run's seeds are split
  over the devices, each on its own thread (`benchmarks/cpu_devices.py`).

`configure()` applies them; the `scalinglaws` command, the test suite and the scripts in
`experiments/` and `benchmarks/` call it first.
"""

import os

import jax


__all__ = ["configure", "require_float64", "use_cpu_devices"]

_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def configure(
    *, float64: bool = True, cpu_scheduler_workaround: bool = True, cpu_devices: int | str | None = None
) -> None:
    """Enable JAX's float64 mode, turn off XLA's concurrency-optimised CPU scheduler (through
    `XLA_FLAGS`), and with `cpu_devices` show the CPU as that many devices (`"auto"`: the usable
    cores, at most 8; see `use_cpu_devices`). The flags take effect only if JAX's backend has not
    started yet: call this first."""
    flags = os.environ.get("XLA_FLAGS", "")
    if cpu_scheduler_workaround and "xla_cpu_enable_concurrency_optimized_scheduler" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {_SCHEDULER_FLAG}".strip()
    if float64:
        jax.config.update("jax_enable_x64", True)
    if cpu_devices is not None:
        use_cpu_devices(None if cpu_devices == "auto" else int(cpu_devices))


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def use_cpu_devices(requested: int | None) -> bool:
    """Let JAX show the CPU as `requested` devices (None: the usable cores, at most 8), so that a
    run's seeds are split over them and run on as many threads. On a GPU this changes nothing. A
    count the user already chose (`XLA_FLAGS` with `--xla_force_host_platform_device_count`, or
    `jax_num_cpu_devices`) is left as it is unless `requested` is given. Returns False when JAX's
    backend had already started, so that nothing could change."""
    chosen = "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
    chosen = chosen or jax.config.jax_num_cpu_devices > 0
    if requested is None and chosen:
        return True
    try:
        jax.config.update("jax_num_cpu_devices", requested or min(_usable_cores(), 8))
    except RuntimeError:  # the backend already started
        return False
    return True


def require_float64(what: str) -> None:
    """Raise `RuntimeError` unless JAX's float64 mode is on."""
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            f"{what} needs float64: call scalinglaws.configure() (or jax.config.update('jax_enable_x64', True)) "
            "at the start of the program"
        )
