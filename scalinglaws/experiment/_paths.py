"""Where configs are found: the built-in ones, and what a name given to `run` means."""

from pathlib import Path


__all__ = ["config_path", "configs_dir"]


def configs_dir() -> Path:
    """The built-in configs: packaged with the wheel, or `configs/` of a source checkout."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "configs"
    return packaged if packaged.is_dir() else package.parent / "configs"


def config_path(name: str | Path) -> Path:
    """The config a name means: a path (a `.toml` name, or anything that exists), else the built-in
    config of that name (`scalinglaws list`), else the path as given (reading it says why not)."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        return path
    builtin = configs_dir() / f"{name}.toml"
    return builtin if builtin.is_file() else path
