"""`bastion --help` and `--version` print without importing the command modules."""

from __future__ import annotations

import subprocess
import sys

import typer

import bastion
from bastion.cli.app import COMMANDS, app, load_commands

from .conftest import invoke


def test_help_lists_every_command_with_its_own_short_help():
    load_commands()
    group = typer.main.get_group(app)
    real = {name: command.get_short_help_str(limit=300) for name, command in group.commands.items()}
    assert real == COMMANDS


def test_help_does_not_import_torch():
    code = (
        "import sys; sys.argv = ['bastion', '--help']\n"
        "from bastion.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules, 'heavy import'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "attack" in result.stdout and "train" in result.stdout


def test_version_prints_the_package_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"bastion {bastion.__version__}"


def test_a_subcommand_still_runs_after_lazy_loading():
    result = invoke("attack", "--help")
    assert result.exit_code == 0
    assert "evasion" in result.output


def test_every_command_module_is_loaded_lazily():
    from pathlib import Path

    from bastion.cli.app import COMMAND_MODULES

    folder = Path(bastion.__file__).parent / "cli"
    modules = {path.stem for path in folder.glob("*.py")} - {"__init__", "app", "common", "messages"}
    assert modules == set(COMMAND_MODULES)


def test_a_non_number_for_a_float_flag_gives_one_line():
    result = invoke("attack", "evasion", "--eps", "abc")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: Invalid value for '--eps'")
