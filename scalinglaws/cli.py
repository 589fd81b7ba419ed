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

    def draw(path: Path) -> None:
        floor = 0.1 * config["theory"]["rtol"]  # the theory resolves eps_g down to about this
        learning_curve_figure(results.arrays, config["name"], theory_floor=floor).savefig(path, dpi=120)

    try:
        write_run(out, results.arrays, summary, config.to_toml(), draw)
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
    run.set_defaults(handler=_command_run)
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
