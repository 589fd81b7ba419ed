"""The `scalinglaws reproduce` command (registered by `scalinglaws.cli`)."""

import sys
from pathlib import Path


__all__ = ["add_reproduce"]


def _minutes(seconds: float) -> str:
    if seconds != seconds:  # NaN: a full version sized for a GPU, not timed
        return "GPU"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _command_reproduce(args) -> int:
    from ._interrupt import InterruptGuard
    from .cli import EXIT_OK, _enable_compilation_cache, _error, _failure, _use_cpu_devices
    from .experiment import ConfigError, Diverged
    from .reproduce import FIGURES, MANIFEST, reproduce, sized_for_a_gpu
    from .theory import TheoryError

    if args.list:
        print("reproducible figures (time on 2 CPU cores: full / --quick); make one with `scalinglaws reproduce ID`:")
        for item in FIGURES.values():
            full, quick = item.seconds
            print(f"  {item.id:<20} {item.paper}: {item.caption} [{_minutes(full)} / {_minutes(quick)}]")
        return EXIT_OK
    ids = list(FIGURES) if args.all else args.figures
    if not ids:
        return _error("FIGURE: name a figure (see `scalinglaws reproduce --list`), or use --all")
    if args.all and args.figures:
        return _error("FIGURE: give figure ids or --all, not both")
    _use_cpu_devices(args.cpu_devices)  # as `run` does: seeds split over the cores
    if args.all and not args.quick:
        sized = sized_for_a_gpu(ids)
        ids = [i for i in ids if i not in sized]
        if sized and not args.quiet:
            print(
                f"skipping {', '.join(sized)}: sized for a GPU machine (--quick makes the reduced version)",
                file=sys.stderr,
            )
    _enable_compilation_cache()

    def started(figure_id: str) -> None:
        if not args.quiet:
            print(f"{figure_id} ...", file=sys.stderr, flush=True)

    def interrupted() -> str:
        return f"interrupted; the figures finished before it are kept in {args.out} (its {MANIFEST} lists them)"

    try:
        with InterruptGuard(interrupted):
            made = reproduce(ids, Path(args.out), quick=args.quick, started=started)
    except (ConfigError, Diverged, TheoryError, OSError) as error:
        return _failure(error, Path(args.out), f"the figures finished before it are kept in {args.out}")
    for entry in made:
        cached = all(c for _, c in entry["runs"])
        print(
            f"wrote {Path(args.out) / entry['png']} and {entry['report']} in {entry['seconds']:.1f} s"
            + (" (runs served from their cache)" if cached else "")
        )
    print(f"gallery: {Path(args.out) / 'index.html'}")
    return EXIT_OK


def add_reproduce(commands) -> None:
    """Add the `reproduce` sub-command to an argparse sub-parser group."""
    from .cli import _integer

    parser = commands.add_parser("reproduce", help="reproduce figures of the papers (writes DIR/index.html)")
    parser.add_argument("figures", nargs="*", metavar="FIGURE", help="figure ids (see --list)")
    parser.add_argument("--list", action="store_true", help="list the figures, with their times")
    parser.add_argument("--all", action="store_true", help="every figure")
    parser.add_argument("--quick", action="store_true", help="smaller versions (each under 2 minutes on 2 cores)")
    parser.add_argument("--out", default="figures", help="output directory (default figures/)")
    parser.add_argument("--quiet", action="store_true", help="say nothing while working")
    parser.add_argument(
        "--cpu-devices", type=_integer(1), metavar="D", help="on a CPU, split the seeds over D devices, as for `run`"
    )
    parser.set_defaults(handler=_command_reproduce)
