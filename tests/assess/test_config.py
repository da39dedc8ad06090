"""Assessment configuration: presets, TOML files, and errors that name the key and the allowed values."""

from __future__ import annotations

import pytest

from bastion.assess import make_config
from bastion.assess.config import DEFAULT, config_keys
from bastion.exceptions import InputTypeError, ValidationError


def test_the_default_and_quick_presets_are_valid_and_quick_is_smaller():
    default, quick = make_config(), make_config(quick=True)
    assert default.preset == "default" and quick.preset == "quick"
    assert quick.values["samples"] < default.values["samples"]
    assert len(quick.section("evasion")["attacks"]) < len(default.section("evasion")["attacks"])


def test_a_toml_file_overrides_only_the_keys_it_sets(tmp_path):
    path = tmp_path / "assess.toml"
    path.write_text('seed = 7\n[evasion]\neps = [0.3, 0.1]\nheadline_eps = 0.3\nattacks = ["pgd"]\n')
    config = make_config(path)
    assert config.seed == 7
    assert config.section("evasion")["eps"] == [0.1, 0.3]
    assert config.section("evasion")["attacks"] == ["pgd"]
    assert config.section("duplication") == DEFAULT["duplication"]


def test_an_unknown_key_is_named_with_the_allowed_keys(tmp_path):
    path = tmp_path / "assess.toml"
    path.write_text('[evasion]\natacks = ["pgd"]\n')
    with pytest.raises(
        ValidationError, match=r"unknown key `evasion.atacks` in .*assess.toml; allowed keys in \[evasion\]: .*attacks"
    ):
        make_config(path)


def test_an_unknown_section_is_named_with_the_allowed_ones():
    with pytest.raises(ValidationError, match=r"unknown key `evasoin` in config; allowed keys: .*evasion"):
        make_config({"evasoin": {}})


def test_an_unknown_attack_lists_the_allowed_values():
    with pytest.raises(
        ValidationError, match=r"`evasion.attacks` in config must list only 'fgsm', 'pgd', .*'hopskipjump', got 'pgdd'"
    ):
        make_config({"evasion": {"attacks": ["pgd", "pgdd"]}})


def test_a_value_out_of_range_gives_the_range():
    with pytest.raises(
        ValidationError, match=r"`poisoning.fraction` in config must be a number in \[0, 0.5\], got 0.9"
    ):
        make_config({"poisoning": {"fraction": 0.9}})


def test_a_value_of_the_wrong_type_is_an_input_type_error():
    with pytest.raises(InputTypeError, match=r"`duplication.budgets` in config must be a list of ints"):
        make_config({"duplication": {"budgets": 1000}})
    with pytest.raises(InputTypeError, match=r"`evasion.enabled` in config must be true or false, got 'yes'"):
        make_config({"evasion": {"enabled": "yes"}})


def test_the_headline_eps_must_be_on_the_grid():
    with pytest.raises(
        ValidationError, match=r"`evasion.headline_eps` .* must be one of `evasion.eps` \[0.1, 0.2\], got 0.3"
    ):
        make_config({"evasion": {"eps": [0.1, 0.2], "headline_eps": 0.3}})


def test_an_empty_eps_grid_is_refused_but_an_empty_defense_list_is_allowed():
    with pytest.raises(ValidationError, match=r"`evasion.eps` .*\(at least one\)"):
        make_config({"evasion": {"eps": []}})
    assert make_config({"evasion": {"defenses": []}}).section("evasion")["defenses"] == []


def test_invalid_toml_and_a_missing_file_are_validation_errors(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[evasion\n")
    with pytest.raises(ValidationError, match="not valid TOML"):
        make_config(path)
    with pytest.raises(ValidationError, match="does not exist"):
        make_config(tmp_path / "missing.toml")


def test_every_key_is_documented_with_its_type_and_default():
    rows = config_keys()
    assert {"seed", "evasion.eps", "duplication.budgets", "poisoning.sanitizers", "training.epochs"} <= {
        row["key"] for row in rows
    }
    assert all(row["help"] and row["type"] and row["default"] for row in rows)
