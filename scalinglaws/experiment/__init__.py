"""Configs, runs and result directories: the layer between the library and the CLI."""

from ._config import (
    KEYS as KEYS,
    Config as Config,
    ConfigError as ConfigError,
    load_config as load_config,
    parse_override as parse_override,
    resolve as resolve,
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
    cached as cached,
    check_output_dir as check_output_dir,
    load_results as load_results,
    write_run as write_run,
)
