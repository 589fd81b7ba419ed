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
        _check_device_memory(estimate)
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


def _fit_mode(args) -> str:
    return "frontier" if args.frontier else "joint" if args.joint else "against" if args.against else "time"


def _key_values(directories: list[Path], key: str) -> list[float | None]:
    """Each run's value of `key` from its config.toml (None where the run sweeps it)."""
    from .experiment import load_config
    from .experiment._grid import SWEEPABLE

    dotted = {name: k for k, name in SWEEPABLE.items()}.get(key, key)
    values = []
    for directory in directories:
        config = load_config(directory / "config.toml")
        value = config.get_key(dotted) if "." in dotted else None
        values.append(None if isinstance(value, list) else value)
    return values


def _command_fit_across(args, directories: list[Path]) -> int:
    """`fit --against/--frontier/--joint`: a law across runs; recorded in DIR (one run) or printed."""
    from ._interrupt import InterruptGuard
    from ._plotting import frontier_figure, law_figure
    from .experiment import ConfigError, OutputDirectory, load_results, strict_json
    from .fit import FitError, compute_frontier, fit_against, fit_joint, parse_statistic

    mode = _fit_mode(args)
    if mode != "against" and len(directories) > 1:
        return _error(f"--{mode}: takes one run directory (a grid), got {len(directories)}")
    try:
        runs = [load_results(d) for d in directories]
    except (OSError, ValueError) as error:
        return _error(f"DIR: cannot read the results: {error}")
    try:
        if mode == "against":
            at = "final" if args.final else "best" if args.best else parse_statistic(args.at or "final")
            values = _key_values(directories, args.against) if len(runs) > 1 else None
            laws = fit_against(
                runs if len(runs) > 1 else runs[0],
                args.against,
                at=at,
                form=args.form,
                values=values,
                window=None if args.range is None else tuple(args.range),
                bootstrap=args.bootstrap,
            )
            record = {"kind": "against", "laws": [law.to_json() for law in laws]}
            name = f"against {laws[0].key} {laws[0].statistic} ({args.form})"
            figure = lambda path: law_figure(laws, directories[0].name).savefig(path, dpi=120, format="png")  # noqa: E731
            for law in laws:
                fixed = ", ".join(f"{k}={v:g}" for k, v in law.fixed.items())
                print(
                    f"{law.fit.form} against {law.key} ({law.statistic}{'; ' + fixed if fixed else ''}): "
                    + _parameters(law.fit)
                )
        elif mode == "frontier":
            frontier = compute_frontier(
                runs[0],
                args.width,
                window=_pair(args.compute_window),
                loss_window=_pair(args.loss_window),
                bootstrap=args.bootstrap,
            )
            record = {"kind": "frontier", "width": args.width, **frontier.to_json()}
            name = f"frontier over {args.width}"
            figure = lambda path: frontier_figure(runs[0], frontier, args.width, directories[0].name).savefig(  # noqa: E731
                path, dpi=120, format="png"
            )
            print(
                f"compute frontier over C in [{frontier.window[0]:.4g}, {frontier.window[1]:.4g}]: "
                f"eps_g ∝ C^{frontier.loss_exponent:.4g} {_interval(frontier.loss_interval)}, "
                f"optimal {args.width} ∝ C^{frontier.width_exponent:.4g} {_interval(frontier.width_interval)}"
            )
        else:
            fit = fit_joint(runs[0], args.joint, time_window=_pair(args.time_window), bootstrap=args.bootstrap)
            record = {"kind": "joint", "size": args.joint, **fit.to_json()}
            name = f"joint over {args.joint} and time"
            figure = None
            print(f"eps_g = A {args.joint}^-a + B t^-b + E: " + _parameters(fit))
    except (FitError, ConfigError) as error:
        return _error(f"fit: {error}")
    if len(directories) > 1:
        return EXIT_OK  # several runs: printed, no run of them owns the law
    directory = directories[0]
    target = OutputDirectory(directory, create=False, key="DIR")
    writes = {"fit.json": lambda path: path.write_text(strict_json(record), encoding="utf-8")}
    if figure is not None:
        writes["law.png"] = figure
    with InterruptGuard(_on_interrupt(target)):
        try:
            with target:
                summary = dict(target.verified_record(list(writes)).summary)
                summary["fits"] = dict(summary.get("fits") or {})
                summary["fits"][name] = record
                try:
                    target.commit(writes, summary, replace_run=False)
                except OSError as error:
                    return _error(f"DIR: cannot write {directory}: {error.strerror or error}; nothing was changed")
        except ConfigError as error:
            return _error(error)
    print(f"wrote {directory / 'fit.json'}" + (f" and {directory / 'law.png'}" if figure is not None else ""))
    return EXIT_OK


def _pair(values):
    return None if values is None else tuple(values)


def _interval(interval) -> str:
    return "(undetermined)" if interval is None else f"[{interval[0]:.4g}, {interval[1]:.4g}]"


def _parameters(fit) -> str:
    return ", ".join(f"{name} = {value:.4g} {_interval(fit.intervals[name])}" for name, value in fit.params.items())


def _command_fit(args) -> int:
    from ._interrupt import InterruptGuard
    from ._plotting import learning_curve_figure
    from ._setup import time_axis
    from .experiment import ConfigError, OutputDirectory, load_results, strict_json
    from .fit import fit_run, form_from_name

    if args.form is None:
        args.form = "pure_power_law" if args.against else "power_law"
    try:
        form_from_name(args.form)
    except ValueError as error:
        return _error(f"--form: {error}")
    for flag in ("range", "compute_window", "loss_window", "time_window"):
        pair = getattr(args, flag)
        if pair is not None and not 0 <= pair[0] < pair[1]:
            return _error(f"--{flag.replace('_', '-')}: must be 0 <= A < B, got {pair[0]:g} {pair[1]:g}")
    mode = _fit_mode(args)
    if sum(bool(x) for x in (args.frontier, args.joint, args.against)) > 1:
        return _error("--against, --frontier and --joint: give one of them")
    statistic = [flag for flag, given in (("--at", args.at), ("--final", args.final), ("--best", args.best)) if given]
    if statistic and mode != "against":
        return _error(f"{statistic[0]}: applies with --against KEY")
    if len(statistic) > 1:
        return _error(f"{statistic[0]} and {statistic[1]}: give one statistic")
    if mode != "time" and (args.variant is not None or args.auto_window):
        return _error(f"{'--variant' if args.variant is not None else '--auto-window'}: applies to a fit along time")
    directories = [Path(d) for d in args.dir]
    if mode != "time":
        return _command_fit_across(args, directories)
    if len(directories) > 1:
        return _error("DIR: a fit along time takes one run directory (--against KEY fits across several)")
    directory = directories[0]
    target = OutputDirectory(directory, create=False, key="DIR")
    with InterruptGuard(_on_interrupt(target)):
        try:
            with target:
                record = target.verified_record(["fit.json", "figure.png"])
                try:
                    arrays = load_results(directory)
                except (OSError, ValueError) as error:
                    return _error(f"DIR: cannot read {directory / 'results.npz'}: {error}")
                # A grid without --variant: every cell, each with its own fit.
                cells = range(arrays.size) if arrays.grid and args.variant is None else [args.variant]
                fits = []
                try:
                    for cell in cells:
                        fits.append(
                            fit_run(
                                arrays,
                                args.form,
                                window=None if args.range is None else tuple(args.range),
                                auto_window=args.auto_window,
                                tolerance=args.tolerance,
                                bootstrap=args.bootstrap,
                                variant=cell,
                            )
                        )
                except ValueError as error:  # FitError: data that cannot be fitted, or a bad variant
                    where = f"cell {cell} ({arrays.label(cell)}): " if len(cells) > 1 else ""
                    return _error(f"{'--variant' if 'variant' in str(error) else 'fit'}: {where}{error}")
                summary = dict(record.summary)
                summary["fits"] = dict(summary.get("fits") or {})
                for cell, (fit, fitted) in zip(cells, fits):
                    summary["fits"][f"{fit.form}{'' if cell is None else f'[{cell}]'}"] = fitted
                fitted_all = fits[0][1] if len(fits) == 1 else {"cells": [fitted for _, fitted in fits]}

                def draw(path):
                    label = "" if args.variant is None else f" (variant {args.variant})"
                    figure = learning_curve_figure(
                        arrays, directory.name, fit=[fit for fit, _ in fits], fit_label=label
                    )
                    figure.savefig(path, dpi=120, format="png")

                writers = {
                    "fit.json": lambda path: path.write_text(strict_json(fitted_all), encoding="utf-8"),
                    "figure.png": draw,
                }
                try:
                    target.commit(writers, summary, replace_run=False)
                except OSError as error:
                    return _error(f"DIR: cannot write {directory}: {error.strerror or error}; nothing was changed")
        except ConfigError as error:
            return _error(error)
    axis = time_axis(arrays)
    for cell, (fit, fitted) in zip(cells, fits):
        label = "" if cell is None else f" (cell {cell}: {arrays.label(cell)})" if arrays.grid else f" (variant {cell})"
        print(
            f"fit {fit.form}{label} of {fitted['curve']} over {axis} in [{fit.window[0]:.3g}, {fit.window[1]:.3g}]: "
            + _parameters(fit)
        )
        print(f"  window: {fitted['window_method']}")
    print(f"wrote {directory / 'fit.json'}")
    return EXIT_OK


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
    from ._cli_processes import add_process_flags
    from ._cli_reproduce import add_reproduce
    from .experiment import KEYS

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
        "--cpu-devices",
        type=_integer(1),
        metavar="D",
        help="on a CPU, split the seeds over D devices (threads); default: the usable cores, at most 8",
    )
    add_process_flags(run)
    run.set_defaults(handler=_command_run)
    fit = commands.add_parser(
        "fit", help="fit a form to a run's eps_g along time, or a law across runs (writes DIR/fit.json)"
    )
    fit.add_argument("dir", nargs="+", help="a run directory (with results.npz); several with --against")
    fit.add_argument(
        "--form",
        help="power_law, pure_power_law, broken_power_law, plateau_power_law or exponential (default power_law; "
        "pure_power_law with --against)",
    )
    window = fit.add_mutually_exclusive_group()
    window.add_argument("--range", nargs=2, type=_number(), metavar=("A", "B"), help="fit only alpha in [A, B]")
    window.add_argument(
        "--auto-window", action="store_true", help="fit where the local exponent is steady (a power-law regime)"
    )
    fit.add_argument(
        "--tolerance",
        type=_number(positive=True),
        default=0.05,
        help="steadiness of the local exponent (--auto-window)",
    )
    fit.add_argument(
        "--bootstrap",
        type=_integer(0, KEYS["fit"]["bootstrap"].maximum),
        default=200,
        help="bootstrap resamples over seeds (0: curvature; at most 10000)",
    )
    fit.add_argument(
        "--variant", type=_integer(0), help="which cell of a sweep or grid (flat index, last axis fastest)"
    )
    fit.add_argument("--against", metavar="KEY", help="fit eps_g against a swept key (e.g. student.hidden) across runs")
    fit.add_argument("--at", metavar="alpha=A", help="with --against: eps_g at time A (default: --final)")
    fit.add_argument("--final", action="store_true", help="with --against: eps_g at the end of each run")
    fit.add_argument("--best", action="store_true", help="with --against: the lowest eps_g over time")
    fit.add_argument("--frontier", action="store_true", help="the compute frontier of a width x time grid")
    fit.add_argument(
        "--width", default="hidden", metavar="KEY", help="with --frontier: the width axis (default hidden)"
    )
    fit.add_argument("--compute-window", nargs=2, type=_number(), metavar=("A", "B"), help="with --frontier: C range")
    fit.add_argument("--loss-window", nargs=2, type=_number(), metavar=("A", "B"), help="with --frontier: eps_g range")
    fit.add_argument("--joint", metavar="KEY", help="fit eps_g = A KEY^-a + B t^-b + E over a grid over KEY")
    fit.add_argument(
        "--time-window", nargs=2, type=_number(), metavar=("A", "B"), help="with --joint: the times fitted"
    )
    fit.set_defaults(handler=_command_fit)
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
