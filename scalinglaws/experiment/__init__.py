"""Configs, runs and result directories: the layer between the library and the CLI."""

from ._api import RunEstimate as RunEstimate, default_directory as default_directory, run as run
from ._build import build_setup as build_setup, build_spectra as build_spectra
from ._config import (
    KEYS as KEYS,
    Config as Config,
    ConfigError as ConfigError,
    config_path as config_path,
    configs_dir as configs_dir,
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
from ._report import strict_json as strict_json, write_atomic as write_atomic, write_report as write_report
from ._run import Diverged as Diverged, Results as Results, theory_advice as theory_advice
from ._store import (
    RESULT_FILES as RESULT_FILES,
    OutputDirectory as OutputDirectory,
    RunRecord as RunRecord,
    file_checksum as file_checksum,
    load_results as load_results,
    read_run as read_run,
)
from ._sweep import run_experiment as run_experiment
from ._timing import TimeEstimate as TimeEstimate, estimate_time as estimate_time
