"""The `scalinglaws fit` command (registered by `scalinglaws.cli`): a form along time in one run, or a
law across runs (`--against`, `--frontier`, `--joint`), recorded in the run directory."""

from pathlib import Path


__all__ = ["add_fit"]


def _pair(values):
    return None if values is None else tuple(values)


def _interval(interval) -> str:
    return "(undetermined)" if interval is None else f"[{interval[0]:.4g}, {interval[1]:.4g}]"


def _parameters(fit) -> str:
    return ", ".join(f"{name} = {value:.4g} {_interval(fit.intervals[name])}" for name, value in fit.params.items())


def _mode(args) -> str:
    return "frontier" if args.frontier else "joint" if args.joint else "against" if args.against else "time"


def _in_run(directory: Path, names: list[str], produce) -> int | None:
    """Under the run directory's lock, after checking that it is an intact run whose files `names`
    are the tool's: `produce()` -> `(writes, fits)` (or an exit code), then `writes` (file name ->
    writer) written and `fits` added to the summary's `fits`, as one atomic unit. An exit code on
    failure, None on success."""
    from ._interrupt import InterruptGuard
    from .cli import _error, _on_interrupt
    from .experiment import ConfigError, OutputDirectory

    target = OutputDirectory(directory, create=False, key="DIR")
    with InterruptGuard(_on_interrupt(target)):
        try:
            with target:
                summary = dict(target.verified_record(names).summary)
                produced = produce()
                if isinstance(produced, int):
                    return produced
                writes, fits = produced
                summary["fits"] = {**(summary.get("fits") or {}), **fits}
                try:
                    target.commit(writes, summary, replace_run=False)
                except OSError as error:
                    return _error(f"DIR: cannot write {directory}: {error.strerror or error}; nothing was changed")
        except ConfigError as error:
            return _error(error)
    return None


def _key_values(directories: list[Path], key: str) -> list[float | None]:
    """Each run's value of `key` from its config.toml (None where the run sweeps it)."""
    from ._results import AXIS_KEYS
    from .experiment import load_config

    dotted = AXIS_KEYS.get(key, key)
    values = []
    for directory in directories:
        value = load_config(directory / "config.toml").get_key(dotted) if "." in dotted else None
        values.append(None if isinstance(value, list) else value)
    return values


def _against(args, directories, runs):
    """`--against KEY`: `(name, record, figure writer)`; prints every law."""
    from ._plotting import law_figure
    from .fit import fit_against, parse_statistic

    at = "final" if args.final else "best" if args.best else parse_statistic(args.at or "final")
    laws = fit_against(
        runs if len(runs) > 1 else runs[0],
        args.against,
        at=at,
        form=args.form,
        values=_key_values(directories, args.against) if len(runs) > 1 else None,
        window=_pair(args.range),
        bootstrap=args.bootstrap,
    )
    for law in laws:
        fixed = ", ".join(f"{k}={v:g}" for k, v in law.fixed.items())
        print(
            f"{law.fit.form} against {law.key} ({law.statistic}{'; ' + fixed if fixed else ''}): {_parameters(law.fit)}"
        )
    name = f"against {laws[0].key} {laws[0].statistic} ({args.form})"
    figure = law_figure(laws, directories[0].name)
    return name, {"kind": "against", "laws": [law.to_json() for law in laws]}, figure


def _frontier(args, directories, runs):
    from ._plotting import frontier_figure
    from .fit import compute_frontier

    frontier = compute_frontier(
        runs[0],
        args.width,
        window=_pair(args.compute_window),
        loss_window=_pair(args.loss_window),
        bootstrap=args.bootstrap,
    )
    print(
        f"compute frontier over C in [{frontier.window[0]:.4g}, {frontier.window[1]:.4g}]: "
        f"eps_g ∝ C^{frontier.loss_exponent:.4g} {_interval(frontier.loss_interval)}, "
        f"optimal {args.width} ∝ C^{frontier.width_exponent:.4g} {_interval(frontier.width_interval)}"
    )
    figure = frontier_figure(runs[0], frontier, args.width, directories[0].name)
    return f"frontier over {args.width}", {"kind": "frontier", "width": args.width, **frontier.to_json()}, figure


def _joint(args, directories, runs):
    from .fit import fit_joint

    fit = fit_joint(runs[0], args.joint, time_window=_pair(args.time_window), bootstrap=args.bootstrap)
    print(f"eps_g = A {args.joint}^-a + B t^-b + E: {_parameters(fit)}")
    return f"joint over {args.joint} and time", {"kind": "joint", "size": args.joint, **fit.to_json()}, None


def _command_fit_across(args, directories: list[Path]) -> int:
    """`fit --against/--frontier/--joint`: a law across runs; recorded in DIR (one run) or printed."""
    from .cli import EXIT_OK, _error
    from .experiment import ConfigError, load_results, strict_json
    from .fit import FitError

    mode = _mode(args)
    if mode != "against" and len(directories) > 1:
        return _error(f"--{mode}: takes one run directory (a grid), got {len(directories)}")
    try:
        runs = [load_results(d) for d in directories]
    except (OSError, ValueError) as error:
        return _error(f"DIR: cannot read the results: {error}")
    try:
        name, record, figure = {"against": _against, "frontier": _frontier, "joint": _joint}[mode](
            args, directories, runs
        )
    except (FitError, ConfigError) as error:
        return _error(f"fit: {error}")
    if len(directories) > 1:
        return EXIT_OK  # several runs: printed, no run of them owns the law
    writes = {"fit.json": lambda path: path.write_text(strict_json(record), encoding="utf-8")}
    if figure is not None:
        writes["law.png"] = lambda path: figure.savefig(path, dpi=120, format="png")
    if (code := _in_run(directories[0], list(writes), lambda: (writes, {name: record}))) is not None:
        return code
    print(f"wrote {directories[0] / 'fit.json'}" + (f" and {directories[0] / 'law.png'}" if figure is not None else ""))
    return EXIT_OK


def _checked_flags(args) -> str | None:
    """What is wrong with the flags' combination (None: nothing); fills in the default form."""
    from .fit import form_from_name

    if args.form is None:
        args.form = "pure_power_law" if args.against else "power_law"
    try:
        form_from_name(args.form)
    except ValueError as error:
        return f"--form: {error}"
    for flag in ("range", "compute_window", "loss_window", "time_window"):
        pair = getattr(args, flag)
        if pair is not None and not 0 <= pair[0] < pair[1]:
            return f"--{flag.replace('_', '-')}: must be 0 <= A < B, got {pair[0]:g} {pair[1]:g}"
    mode = _mode(args)
    if sum(bool(x) for x in (args.frontier, args.joint, args.against)) > 1:
        return "--against, --frontier and --joint: give one of them"
    statistic = [flag for flag, given in (("--at", args.at), ("--final", args.final), ("--best", args.best)) if given]
    if statistic and mode != "against":
        return f"{statistic[0]}: applies with --against KEY"
    if len(statistic) > 1:
        return f"{statistic[0]} and {statistic[1]}: give one statistic"
    if mode != "time" and (args.variant is not None or args.auto_window):
        return f"{'--variant' if args.variant is not None else '--auto-window'}: applies to a fit along time"
    if mode == "time" and len(args.dir) > 1:
        return "DIR: a fit along time takes one run directory (--against KEY fits across several)"
    return None


def _fits_along_time(args, arrays):
    """Every fit along time the flags ask for: `(cells, [(fit, record), ...])` — the cell `--variant`,
    or every cell of a grid."""
    from .fit import fit_run

    cells = range(arrays.size) if arrays.grid and args.variant is None else [args.variant]
    fits = []
    for cell in cells:
        fits.append(
            fit_run(
                arrays,
                args.form,
                window=_pair(args.range),
                auto_window=args.auto_window,
                tolerance=args.tolerance,
                bootstrap=args.bootstrap,
                variant=cell,
            )
        )
    return cells, fits


def _command_fit(args) -> int:
    from ._plotting import learning_curve_figure
    from ._setup import time_axis
    from .cli import EXIT_OK, _error
    from .experiment import load_results, strict_json

    if (problem := _checked_flags(args)) is not None:
        return _error(problem)
    directories = [Path(d) for d in args.dir]
    if _mode(args) != "time":
        return _command_fit_across(args, directories)
    directory = directories[0]
    done = {}

    def produce():
        try:
            done["arrays"] = arrays = load_results(directory)
        except (OSError, ValueError) as error:
            return _error(f"DIR: cannot read {directory / 'results.npz'}: {error}")
        try:
            done["cells"], done["fits"] = cells, fits = _fits_along_time(args, arrays)
        except ValueError as error:  # FitError: data that cannot be fitted, or a bad variant
            return _error(f"{'--variant' if 'variant' in str(error) else 'fit'}: {error}")
        label = "" if args.variant is None else f" (variant {args.variant})"
        record = fits[0][1] if len(fits) == 1 else {"cells": [fitted for _, fitted in fits]}
        writes = {
            "fit.json": lambda path: path.write_text(strict_json(record), encoding="utf-8"),
            "figure.png": lambda path: learning_curve_figure(
                arrays, directory.name, fit=[fit for fit, _ in fits], fit_label=label
            ).savefig(path, dpi=120, format="png"),
        }
        return writes, {f"{fit.form}{'' if c is None else f'[{c}]'}": fitted for c, (fit, fitted) in zip(cells, fits)}

    if (code := _in_run(directory, ["fit.json", "figure.png"], produce)) is not None:
        return code
    arrays, cells, fits = done["arrays"], done["cells"], done["fits"]
    axis = time_axis(arrays)
    for cell, (fit, fitted) in zip(cells, fits):
        where = "" if cell is None else f" (cell {cell}: {arrays.label(cell)})" if arrays.grid else f" (variant {cell})"
        window = f"[{fit.window[0]:.3g}, {fit.window[1]:.3g}]"
        print(f"fit {fit.form}{where} of {fitted['curve']} over {axis} in {window}: {_parameters(fit)}")
        print(f"  window: {fitted['window_method']}")
    print(f"wrote {directory / 'fit.json'}")
    return EXIT_OK


def add_fit(commands) -> None:
    """Add the `fit` sub-command to an argparse sub-parser group."""
    from .cli import _integer, _number
    from .experiment import KEYS

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
