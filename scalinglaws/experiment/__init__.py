"""Configs, runs and result directories: the layer between the library and the CLI."""

from ._config import (
    KEYS as KEYS,
    Config as Config,
    ConfigError as ConfigError,
    load_config as load_config,
    parse_override as parse_override,
    resolve as resolve,
)
from ._memory import (
    MemoryEstimate as MemoryEstimate,
    available_memory as available_memory,
    check_memory as check_memory,
    estimate_memory as estimate_memory,
)
from ._run import (
    Diverged as Diverged,
    Results as Results,
    build_data as build_data,
    build_spectra as build_spectra,
    run_experiment as run_experiment,
)
from ._store import (
    RESULT_FILES as RESULT_FILES,
    OutputDirectory as OutputDirectory,
    RunRecord as RunRecord,
    file_checksum as file_checksum,
    load_results as load_results,
    read_run as read_run,
    strict_json as strict_json,
)
