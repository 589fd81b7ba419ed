"""`scalinglaws run` over several processes (`jax.distributed`): its flags, and how the processes agree.

One process per host (or GPU), one global mesh: the online-SGD batch of seeds is split over every
process's devices (`shard_leading_axis(..., across_processes=True)`), each process computes its
share, and the records are gathered to all of them; the theory is solved by every process alike.
Process 0 alone touches the run directory. Before computing, the processes exchange one number
each (`Processes.agree`): process 0 says whether it computes (or serves the run from its cache, or
refused it, with its exit code), the others whether their own checks passed; so no process starts
computing, and waits forever for the others, when another will not.
"""

import sys
from dataclasses import dataclass


__all__ = ["Processes", "add_process_flags", "start_processes"]

_COMPUTE = -1  # a process's status: ready to compute


def add_process_flags(parser) -> None:
    group = parser.add_argument_group("several processes (jax.distributed; process 0 writes the run)")
    group.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0's coordinator service")
    group.add_argument("--num-processes", type=int, metavar="N", help="how many processes take part")
    group.add_argument("--process-id", type=int, metavar="I", help="this process's index, 0 ... N - 1")
    group.add_argument(
        "--cluster", action="store_true", help="take the three from the cluster's environment (SLURM, Open MPI, ...)"
    )


@dataclass
class Processes:
    """The processes of a run (one, unless started with `start_processes`)."""

    count: int = 1
    index: int = 0
    agreed: bool = False

    @property
    def worker(self) -> bool:
        """Whether this process computes its share and writes nothing (every process but 0)."""
        return self.index > 0

    def _gather(self, status: int) -> list[int]:
        self.agreed = True
        if self.count == 1:
            return [status]
        import numpy as np
        from jax.experimental import multihost_utils

        return [int(s) for s in np.asarray(multihost_utils.process_allgather(np.int32(status)))]

    def agree(self) -> None:
        """Process 0, about to compute: raises `ConfigError` unless every process can take part."""
        from .experiment import ConfigError

        for index, status in enumerate(self._gather(_COMPUTE)):
            if status != _COMPUTE:
                raise ConfigError(
                    "--num-processes", f"process {index} cannot take part (exit {status}; see its message)"
                )

    def tell(self, code: int) -> None:
        """Process 0 does not compute (0: served from its cache; else refused with `code`): tell the others."""
        if self.count > 1 and not self.agreed:
            self._gather(code)

    def work(self, config) -> int:
        """A process other than 0: its own checks, agreement, its share of the computing; nothing written."""
        from .cli import EXIT_BAD_INPUT, EXIT_OK, _error, _failure
        from .experiment import ConfigError, Diverged, build_setup, check_memory, run_experiment
        from .theory import TheoryError

        try:
            for _, cell in config.cells():  # every cell of a grid
                check_memory(build_setup(cell))
        except ConfigError as error:
            self._gather(EXIT_BAD_INPUT)
            return _error(error)
        statuses = self._gather(_COMPUTE)
        if statuses[0] != _COMPUTE:
            print(f"process 0 did not compute the run (exit {statuses[0]}; see its message)", file=sys.stderr)
            return statuses[0]
        if any(status != _COMPUTE for status in statuses):
            return _error("--num-processes: another process cannot take part (see its message)")
        try:
            run_experiment(config)
        except (ConfigError, Diverged, TheoryError) as error:
            return _failure(error, None, "process 0 writes nothing")
        return EXIT_OK


def start_processes(args, config) -> Processes | int:
    """Join the run's processes as the flags say (none: one process); an exit code on bad flags,
    a coordinator that cannot be reached, or seeds that do not split over every process's devices."""
    from .cli import _error

    given = [args.coordinator, args.num_processes, args.process_id]
    if args.cluster and any(value is not None for value in given):
        return _error("--cluster: takes the coordinator, process count and index from the cluster: give none of them")
    if not args.cluster and all(value is None for value in given):
        return Processes()
    if not args.cluster:
        if any(value is None for value in given):
            return _error("--coordinator: give --coordinator, --num-processes and --process-id together")
        if args.num_processes < 1 or not 0 <= args.process_id < args.num_processes:
            return _error(f"--process-id: must be in 0 ... {args.num_processes - 1}, got {args.process_id}")
    import jax

    try:
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    except (RuntimeError, ValueError) as error:
        return _error(f"--coordinator: cannot join the processes: {error}")
    training = config["training"]
    devices = jax.device_count()
    if training["algorithm"] == "online_sgd" and training["seeds"] % devices:
        return _error(
            f"training.seeds: must be a multiple of the {devices} devices of the {jax.process_count()} processes, "
            f"got {training['seeds']}"
        )
    return Processes(jax.process_count(), jax.process_index())
