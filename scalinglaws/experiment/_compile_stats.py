"""How long a run spent compiling, and whether JAX's persistent compilation cache served it.

JAX reports every compilation through `jax.monitoring`: the time to trace a function to a jaxpr,
to lower it to an MLIR module, and to compile it with XLA (or fetch the executable from the
persistent cache: `/jax/compilation_cache/cache_hits` and `cache_misses` count those lookups).
`compile_stats()` sums them over a block of code. The listeners are registered on first use
(never on import) and stay for the process; they only add numbers.
"""

import contextlib
import threading
from collections.abc import Iterator

import jax
from jax import monitoring


__all__ = ["compile_stats"]

_DURATIONS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace_seconds",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower_seconds",
    "/jax/core/compile/backend_compile_duration": "backend_seconds",
}
_COUNTS = {"/jax/compilation_cache/cache_hits": "cache_hits", "/jax/compilation_cache/cache_misses": "cache_misses"}
_totals = dict.fromkeys([*_DURATIONS.values(), *_COUNTS.values()], 0.0)
_lock = threading.Lock()
_registered = False


def _on_duration(event: str, duration: float, **kwargs) -> None:
    name = _DURATIONS.get(event)
    if name is not None:
        with _lock:
            _totals[name] += duration


def _on_event(event: str, **kwargs) -> None:
    name = _COUNTS.get(event)
    if name is not None:
        with _lock:
            _totals[name] += 1


def _register() -> None:
    global _registered
    with _lock:
        if _registered:
            return
        monitoring.register_event_duration_secs_listener(_on_duration)
        monitoring.register_event_listener(_on_event)
        _registered = True


@contextlib.contextmanager
def compile_stats() -> Iterator[dict]:
    """Yields a dict that, when the block ends, holds the block's `compile_seconds` (tracing,
    lowering and XLA compilation or cache retrieval, summed), its parts, and the persistent
    cache's `cache_hits` and `cache_misses` (`cache_enabled`: whether a cache directory is set)."""
    _register()
    with _lock:
        before = dict(_totals)
    out: dict = {}
    try:
        yield out
    finally:
        with _lock:
            delta = {name: _totals[name] - before[name] for name in _totals}
        out["compile_seconds"] = round(sum(delta[name] for name in _DURATIONS.values()), 3)
        out.update({name: round(delta[name], 3) for name in _DURATIONS.values()})
        out.update({name: int(delta[name]) for name in _COUNTS.values()})
        out["cache_enabled"] = bool(jax.config.jax_compilation_cache_dir)
