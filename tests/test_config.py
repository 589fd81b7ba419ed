"""Config validation: defaults, errors naming the key, overrides."""

import re
from pathlib import Path

import pytest

from scalinglaws.experiment import KEYS, ConfigError, load_config, parse_override, resolve


ROOT = Path(__file__).resolve().parent.parent


def test_defaults_fill_every_key():
    config = resolve({})
    for section, specs in KEYS.items():
        for name in specs:
            config.get_key(f"{section}.{name}" if section else name)
    assert config["student"]["hidden"] == 2 and config["training"]["dtype"] == "float32"


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"data": {"input_dimension": 3}}, "data.input_dimension"),
        ({"dataset": {}}, "dataset"),
        ({"data": {"input_dim": 0}}, "data.input_dim"),
        ({"data": {"input_dim": 2.5}}, "data.input_dim"),
        ({"data": {"spectrum": "gaussian"}}, "data.spectrum"),
        ({"data": {"spectrum": "power_law", "input_dim": 10, "distinct_eigenvalues": 3}}, "data.distinct_eigenvalues"),
        ({"data": {"spectrum": "isotropic", "distinct_eigenvalues": 4}}, "data.distinct_eigenvalues"),
        ({"teacher": {"activation": "sigmoid"}}, "teacher.activation"),
        ({"teacher": {"init": "orthonormal", "hidden": 600}}, "teacher.init"),
        ({"student": {"init_std": -1}}, "student.init_std"),
        ({"student": {"visible_blocks": 2}}, "student.visible_blocks"),
        (
            {
                "data": {"spectrum": "power_law", "input_dim": 16, "distinct_eigenvalues": 4},
                "student": {"visible_blocks": 5},
            },
            "student.visible_blocks",
        ),
        ({"theory": {"solver": "implicit"}}, "theory.solver"),
        ({"student": {"train_second_layer": "yes"}}, "student.train_second_layer"),
        ({"training": {"learning_rate": 0}}, "training.learning_rate"),
        ({"training": {"learning_rate": [0.1, -1]}}, "training.learning_rate"),
        ({"training": {"learning_rate": []}}, "training.learning_rate"),
        ({"training": {"alpha_min": 5, "alpha_max": 1}}, "training.alpha_min"),
        ({"training": {"seeds": -1}}, "training.seeds"),
        ({"training": {"dtype": "float16"}}, "training.dtype"),
        ({"theory": {"enabled": 1}}, "theory.enabled"),
        ({"data": 3}, "data"),
    ],
)
def test_bad_values_name_the_key(raw, key):
    with pytest.raises(ConfigError) as info:
        resolve(raw)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_error_messages_state_the_allowed_range():
    with pytest.raises(ConfigError, match=r"must be >= 1, got 0"):
        resolve({"data": {"input_dim": 0}})
    with pytest.raises(ConfigError, match="must be one of isotropic, power_law"):
        resolve({"data": {"spectrum": "flat"}})


def test_overrides_take_toml_and_bare_strings():
    assert parse_override("data.spectrum=power_law") == ("data.spectrum", "power_law")
    assert parse_override("data.spectrum='power_law'") == ("data.spectrum", "power_law")
    assert parse_override('data.spectrum="power_law"') == ("data.spectrum", "power_law")
    assert parse_override("training.learning_rate=[0.1, 0.5]") == ("training.learning_rate", [0.1, 0.5])
    assert parse_override("student.train_second_layer=true") == ("student.train_second_layer", True)
    config = resolve({}, ["data.spectrum=power_law", "data.input_dim=64", "data.distinct_eigenvalues=8", "name=other"])
    assert config["data"]["spectrum"] == "power_law" and config["data"]["distinct_eigenvalues"] == 8
    assert config["name"] == "other"
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("no equals sign")


def test_hash_ignores_the_name_and_follows_the_content():
    a = resolve({"name": "a"})
    assert a.hash() == resolve({"name": "b"}).hash()
    assert a.hash() != resolve({"training": {"seeds": 3}}).hash()
    assert a.hash("0.1") != a.hash("0.2")


def test_resolved_config_round_trips_through_toml(tmp_path):
    config = resolve({"training": {"learning_rate": [0.1, 0.2]}})
    path = tmp_path / "c.toml"
    path.write_text(config.to_toml())
    assert load_config(path).to_dict() == config.to_dict()


def test_shipped_configs_are_valid():
    for path in sorted((ROOT / "configs").glob("*.toml")):
        load_config(path)


def test_readme_documents_every_key():
    readme = (ROOT / "README.md").read_text()
    for section, specs in KEYS.items():
        for name in specs:
            dotted = f"{section}.{name}" if section else name
            assert re.search(rf"`{re.escape(dotted)}`", readme), f"README does not document {dotted}"
