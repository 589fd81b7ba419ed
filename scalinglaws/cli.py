"""The `scalinglaws` command: a thin layer of argument parsing over `scalinglaws.experiment`.

Exit codes: 0 success, 2 bad input (config, overrides, output directory, memory), 3 a simulation
diverged, 130 (143) interrupted by Ctrl-C (SIGTERM).
"""

import argparse
import math
import os
import sys
import tomllib
from pathlib import Path

from .experiment._config import configs_dir as configs_dir


EXIT_OK, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 2, 3
_SHOWN = 12  # final errors printed after a run (a grid has more cells)


def _enable_compilation_cache() -> None:
    import jax

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scalinglaws" / "jax"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _use_cpu_devices(requested: int | None) -> None:
    from ._jax_config import use_cpu_devices

    if not use_cpu_devices(requested) and requested is not None:
        print(f"warning: --cpu-devices {requested} ignored: JAX had already started", file=sys.stderr)


def _error(error) -> int:
    print(f"error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _failure(error: Exception, out: Path, outcome: str) -> int:
    """One message and the exit code for what a computing command raised: bad input (`ConfigError`)
    or a theory that cannot be solved exit 2, a diverged simulation 3, an output that cannot be
    written 2 naming `--out`; `outcome` says what was left written."""
    from .experiment import ConfigError, Diverged

    if isinstance(error, ConfigError):
        return _error(error)
    if isinstance(error, Diverged):
        print(f"diverged: {error}; {outcome}", file=sys.stderr)
        return EXIT_DIVERGED
    if isinstance(error, OSError):
        return _error(f"--out: cannot write {out}: {error.strerror or error}; {outcome}")
    print(f"error: theory: {error}; {outcome}", file=sys.stderr)  # TheoryError
    return EXIT_BAD_INPUT


def _on_interrupt(target):
    """What Ctrl-C or SIGTERM does (from the guard's watcher thread): discard the staged files of
    `target` (an `OutputDirectory`) and say whether anything was written."""

    def cleanup() -> str:
        if target.abort():
            return f"interrupted; {target.path} had already been written"
        return "interrupted; nothing was written"

    return cleanup


def _check_device_memory(estimate) -> None:
    """On an accelerator, refuse a run whose estimated peak (`MemoryEstimate`) cannot fit in its
    memory (`ConfigError`)."""
    import jax

    from .experiment import ConfigError

    device = jax.devices()[0]
    if device.platform == "cpu":
        return  # host memory, already checked
    limit = (device.memory_stats() or {}).get("bytes_limit")
    if limit and estimate.total > limit * jax.device_count():
        key, what, size = estimate.largest()
        raise ConfigError(
            key,
            f"the run needs about {estimate.total / 2**30:.3g} GiB at its peak ({what}: {size / 2**30:.3g} GiB), "
            f"more than the {limit * jax.device_count() / 2**30:.3g} GiB of the {device.platform} devices",
        )


def _command_run(args) -> int:
    from ._cli_processes import start_processes
    from ._interrupt import InterruptGuard
    from .experiment import ConfigError, Diverged, OutputDirectory, default_directory, load_config, run
    from .theory import TheoryError

    try:
        config = load_config(args.config, args.set or [])
    except ConfigError as error:
        return _error(error)
    if args.estimate:
        return _print_estimate(config)
    target = OutputDirectory(Path(args.out) if args.out else default_directory(config))
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="step", unit_scale=True, delay=2.0, desc=config["name"], leave=False)
        bar.total = total  # a grid's cells add their steps as they start
        bar.update(done - bar.n)

    def before_compute(estimate, note: str | None) -> None:
        if note:
            print(note, file=sys.stderr)
        if not args.quiet and (estimate.time.cells > 1 or estimate.time.total > _ANNOUNCED_SECONDS):
            print(f"estimated: {estimate.time.describe()} on the reference 2-core CPU", file=sys.stderr)
        _check_device_memory(estimate.memory)
        processes.agree()

    _use_cpu_devices(args.cpu_devices)  # before the setup is built: that starts JAX's backend
    _enable_compilation_cache()  # before anything compiles: JAX decides at its first compilation
    processes = start_processes(args, config)
    if isinstance(processes, int):
        return processes
    if processes.worker:
        return processes.work(config)
    with InterruptGuard(_on_interrupt(target)):
        try:
            results = run(config, target, force=args.force, progress=progress, before_compute=before_compute)
        except (ConfigError, Diverged, TheoryError, OSError) as error:
            code = _failure(error, target.path, "nothing was written")
            processes.tell(code)
            return code
        finally:
            if bar is not None:
                bar.close()
    processes.tell(EXIT_OK)
    if results.cached:
        print(f"cached: {results.path} holds this config's verified results (use --force to recompute)")
        return EXIT_OK
    _report(results)
    return EXIT_OK


_ANNOUNCED_SECONDS = 30  # a run estimated to take longer says so before it starts


def _print_estimate(config) -> int:
    """`run --estimate`: the memory and time a config's run needs (every cell of its grid), checked
    as a run checks them, and nothing computed or written."""
    from .experiment import ConfigError, available_memory, build_setup, estimate_memory, estimate_time

    try:
        setups = [build_setup(cell) for _, cell in config.cells()]
        memory = max((estimate_memory(s) for s in setups), key=lambda e: e.total)
    except ConfigError as error:
        return _error(error)
    available = available_memory()
    key, what, size = memory.largest()
    fits = "" if available is None else f" of {available / 2**30:.3g} GiB available"
    print(
        f"memory: about {memory.total / 2**30:.3g} GiB at its peak{fits} "
        f"(largest part: {what}, {size / 2**30:.3g} GiB, set by {key})"
    )
    print(f"time: {estimate_time(setups).describe()} on the reference 2-core CPU (compiling: less with a warm cache)")
    if available is not None and memory.total > available:
        print(f"the run would be refused: it does not fit in memory (make {key} smaller)")
    return EXIT_OK


def _report(results) -> None:
    """What a computed run prints: where it went, the final errors, and every warning."""
    import numpy as np

    from ._setup import time_axis

    summary = results.summary
    axis = time_axis(results.arrays)
    last = np.nanmax(np.asarray(results.arrays[axis], np.float64))
    finals = []
    for key, label in (("eps_g_final_mean", "simulation"), ("eps_g_theory_final_mean", "theory")):
        if key in summary:
            finals.append(f"{label} " + ", ".join(f"{x:.4g}" for x in summary[key][:_SHOWN]))
            if len(summary[key]) > _SHOWN:
                finals[-1] += f", ... ({len(summary[key])} cells)"
    print(
        f"wrote {results.path} in {summary['total_seconds']:.1f} s: eps_g at {axis}={last:g}: "
        f"{'; '.join(finals)} (seed means)"
    )
    if summary.get("theory_failed"):
        print(f"warning: the simulation was written without theory: {summary['theory']}", file=sys.stderr)
    if summary.get("diverged"):
        print(f"warning: diverged runs recorded as NaN: {summary['diverged']}", file=sys.stderr)
    if summary.get("fit_failed"):
        print(f"warning: the run was written without its fit: {summary['fit_failed']}", file=sys.stderr)


def _command_list(args) -> int:
    directory = configs_dir()
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        print(f"no built-in configs found in {directory}")
        return EXIT_OK
    print(f"built-in configs ({directory}); run one with `scalinglaws run NAME`:")
    for path in paths:
        try:
            description = tomllib.loads(path.read_text()).get("description", "")
        except tomllib.TOMLDecodeError:
            description = "(not valid TOML)"
        print(f"  {path.stem:<30} {description}")
    return EXIT_OK


def _integer(low: int, high: int | None = None):
    """An argparse type: an integer in `[low, high]`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be in [{low}, {'inf' if high is None else high}], got {text}")
        return value

    return parse


def _number(positive: bool = False):
    """An argparse type: a finite number (`positive`: above zero)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value) or (positive and value <= 0):
            raise argparse.ArgumentTypeError(f"must be a finite number{' > 0' if positive else ''}, got {text}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line naming the flag, exit 2 (argparse prints its whole usage)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from ._cli_fit import add_fit
    from ._cli_processes import add_process_flags
    from ._cli_reproduce import add_reproduce

    parser = _Parser(prog="scalinglaws", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="simulate (and solve the theory of) a config")
    run.add_argument("config", help="a TOML config file, or the name of a built-in config")
    run.add_argument("--out", help="output directory (default runs/<name>-<hash>)")
    run.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override a config key; the value is TOML (bare strings allowed); repeatable",
    )
    run.add_argument("--force", action="store_true", help="recompute even if a cached result exists")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--estimate",
        action="store_true",
        help="print the run's estimated peak memory and wall time, and compute nothing",
    )
    run.add_argument(
        "--cpu-devices",
        type=_integer(1),
        metavar="D",
        help="on a CPU, split the seeds over D devices (threads); default: the usable cores, at most 8",
    )
    add_process_flags(run)
    run.set_defaults(handler=_command_run)
    add_fit(commands)
    listing = commands.add_parser("list", help="list the built-in configs")
    listing.set_defaults(handler=_command_list)
    add_reproduce(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ._jax_config import configure

    args = build_parser().parse_args(argv)
    configure()  # float64 for the theories, and the XLA CPU-scheduler workaround
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout left (`scalinglaws list | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
