"""The `scalinglaws` command: a thin layer of argument parsing over `scalinglaws.experiment`.

Exit codes: 0 success, 2 bad input (config, overrides, output directory), 3 a simulation diverged.
"""

import argparse
import os
import sys
import time
import tomllib
from pathlib import Path


EXIT_OK, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 2, 3


def configs_dir() -> Path:
    """The built-in configs: packaged with the wheel, or `configs/` of a source checkout."""
    packaged = Path(__file__).parent / "configs"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "configs"


def _resolve_config_path(name: str) -> Path:
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        return path
    builtin = configs_dir() / f"{name}.toml"
    return builtin if builtin.is_file() else path


def _enable_compilation_cache() -> None:
    import jax

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scalinglaws" / "jax"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _use_cpu_devices(requested: int | None) -> None:
    """Let JAX show the CPU as `requested` devices (default: the usable cores, at most 8), so that a
    run's seeds are split over them and run on as many threads. On a GPU this changes nothing
    (the simulation runs on the GPU). A count the user already chose (`XLA_FLAGS` with
    `--xla_force_host_platform_device_count`, or `jax_num_cpu_devices`), or a backend that is already
    running, is left as it is unless `--cpu-devices` asks otherwise."""
    import jax

    chosen = "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
    chosen = chosen or jax.config.jax_num_cpu_devices > 0
    if requested is None and chosen:
        return
    try:
        jax.config.update("jax_num_cpu_devices", requested or min(_usable_cores(), 8))
    except RuntimeError:  # the backend already started (e.g. main() called in-process after JAX work)
        if requested is not None:
            print(f"warning: --cpu-devices {requested} ignored: JAX had already started", file=sys.stderr)


def _command_run(args) -> int:
    from . import __version__
    from ._plotting import learning_curve_figure
    from .experiment import (
        ConfigError,
        Diverged,
        cached,
        check_output_dir,
        load_config,
        run_experiment,
        write_run,
    )
    from .theory import TheoryError

    try:
        config = load_config(_resolve_config_path(args.config), args.set or [])
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    config_hash = config.hash(__version__)
    out = Path(args.out) if args.out else Path("runs") / f"{config['name']}-{config_hash[:8]}"
    if not args.force and cached(out, config_hash):
        print(f"cached: {out} holds this config's results (use --force to recompute)")
        return EXIT_OK
    try:
        check_output_dir(out)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

    _use_cpu_devices(args.cpu_devices)
    _enable_compilation_cache()
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="step", unit_scale=True, delay=2.0, desc=config["name"], leave=False)
        bar.update(done - bar.n)

    start = time.perf_counter()
    try:
        results = run_experiment(config, progress)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Diverged as error:
        print(f"diverged: {error}; nothing was written", file=sys.stderr)
        return EXIT_DIVERGED
    except TheoryError as error:
        print(f"error: theory: {error}; nothing was written", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if bar is not None:
            bar.close()
    summary = dict(results.summary, config_hash=config_hash, total_seconds=round(time.perf_counter() - start, 3))
    fit, extra = _fit_on_the_fly(config, results.arrays, summary)

    def draw(path: Path) -> None:
        floor = 0.1 * config["theory"]["rtol"]  # the theory resolves eps_g down to about this
        learning_curve_figure(results.arrays, config["name"], theory_floor=floor, fit=fit).savefig(path, dpi=120)

    try:
        write_run(out, results.arrays, summary, config.to_toml(), draw, extra)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finals = []
    for key, label in (("eps_g_final_mean", "simulation"), ("eps_g_theory_final_mean", "theory")):
        if key in summary:
            finals.append(f"{label} " + ", ".join(f"{x:.4g}" for x in summary[key]))
    print(
        f"wrote {out} in {summary['total_seconds']:.1f} s: eps_g at alpha={results.arrays['alpha'][-1]:g}: "
        f"{'; '.join(finals)} (seed means)"
    )
    if summary.get("theory_failed"):
        print(f"warning: the simulation was written without theory: {summary['theory']}", file=sys.stderr)
    if summary.get("diverged"):
        print(f"warning: diverged runs recorded as NaN: {summary['diverged']}", file=sys.stderr)
    if summary.get("fit_failed"):
        print(f"warning: the run was written without its fit: {summary['fit_failed']}", file=sys.stderr)
    return EXIT_OK


def _fit_on_the_fly(config, arrays, summary: dict):
    """The config's `[fit]`, if any: `(fit, {"fit.json": text})`; a fit that fails is recorded in
    the summary (`fit_failed`) and the run is written without it."""
    import json

    from .fit import FitError, fit_run

    section = config["fit"]
    if section["form"] is None:
        return None, {}
    try:
        fit, record = fit_run(
            arrays,
            section["form"],
            window=None if section["range"] is None else tuple(section["range"]),
            auto_window=section["auto_window"],
            tolerance=section["tolerance"],
            bootstrap=section["bootstrap"],
            variant=section["variant"],
        )
    except FitError as error:
        summary["fit_failed"] = str(error)
        return None, {}
    summary["fits"] = {fit.form: record}
    return fit, {"fit.json": json.dumps(record, indent=2) + "\n"}


def _replace_atomically(path: Path, write) -> None:
    """`write(tmp)` then rename over `path`: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _command_fit(args) -> int:
    import json

    from ._plotting import learning_curve_figure
    from .experiment import load_results
    from .fit import fit_run

    directory = Path(args.dir)
    if not (directory / "results.npz").is_file():
        print(f"error: {directory} holds no results.npz (not a run directory)", file=sys.stderr)
        return EXIT_BAD_INPUT
    arrays = load_results(directory)
    try:
        fit, record = fit_run(
            arrays,
            args.form,
            window=None if args.range is None else tuple(args.range),
            auto_window=args.auto_window,
            tolerance=args.tolerance,
            bootstrap=args.bootstrap,
            variant=args.variant,
        )
    except ValueError as error:  # FitError, or a bad form name
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    label = "" if args.variant is None else f" (variant {args.variant})"
    _replace_atomically(directory / "fit.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    summary_path = directory / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        summary.setdefault("fits", {})[f"{fit.form}{'' if args.variant is None else f'[{args.variant}]'}"] = record
        _replace_atomically(summary_path, lambda p: p.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n"))

    def draw(path):
        learning_curve_figure(arrays, directory.name, fit=fit, fit_label=label).savefig(path, dpi=120, format="png")

    _replace_atomically(directory / "figure.png", draw)
    parts = []
    for name, value in fit.params.items():
        interval = fit.intervals[name]
        parts.append(
            f"{name} = {value:.4g} "
            + ("(undetermined)" if interval is None else f"[{interval[0]:.4g}, {interval[1]:.4g}]")
        )
    print(f"fit {fit.form}{label} over alpha in [{fit.window[0]:.3g}, {fit.window[1]:.3g}]: " + ", ".join(parts))
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalinglaws", description=__doc__.splitlines()[0])
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
        type=_positive_int,
        metavar="D",
        help="on a CPU, split the seeds over D devices (threads); default: the usable cores, at most 8",
    )
    run.set_defaults(handler=_command_run)
    fit = commands.add_parser("fit", help="fit a functional form to a run's eps_g (writes DIR/fit.json)")
    fit.add_argument("dir", help="a run directory (with results.npz)")
    fit.add_argument(
        "--form",
        default="power_law",
        help="power_law, broken_power_law, plateau_power_law or exponential (default power_law)",
    )
    fit.add_argument("--range", nargs=2, type=float, metavar=("A", "B"), help="fit only alpha in [A, B]")
    fit.add_argument(
        "--auto-window", action="store_true", help="fit where the local exponent is steady (a power-law regime)"
    )
    fit.add_argument("--tolerance", type=float, default=0.05, help="steadiness of the local exponent (--auto-window)")
    fit.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples over seeds (0: curvature)")
    fit.add_argument("--variant", type=int, help="which run of a sweep (its index along the first axis)")
    fit.set_defaults(handler=_command_fit)
    listing = commands.add_parser("list", help="list the built-in configs")
    listing.set_defaults(handler=_command_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
