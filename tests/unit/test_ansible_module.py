"""Fast checks of the Ansible module's files (the module itself runs in tests/e2e/test_ansible.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

# The module file imports ansible.module_utils: ansible-core is in the test extra.
from clpbackup.ansible import MODULE_NAME, module_dir, module_path
from clpbackup.ansible import clpbackup_cluster as mod
from clpbackup.cli import main


def test_module_dir_holds_the_module() -> None:
    assert Path(module_path()).is_file()
    assert Path(module_path()).parent == Path(module_dir())
    assert Path(module_path()).name == f"{MODULE_NAME}.py"


def test_ansible_path_prints_the_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ansible-path"]) == 0
    assert capsys.readouterr().out == module_dir() + "\n"


def test_ansible_path_export_prepends_to_the_search_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ansible-path", "--export"]) == 0
    line = capsys.readouterr().out.strip()
    words = shlex.split(line)
    assert words[0] == "export"
    assert words[1] == "ANSIBLE_LIBRARY=" + module_dir() + "${ANSIBLE_LIBRARY:+:$ANSIBLE_LIBRARY}"


def test_documentation_matches_the_argument_spec() -> None:
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == MODULE_NAME
    options = doc["options"]
    assert set(options) == set(mod.ARGUMENT_SPEC)
    for name, spec in mod.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        assert options[name].get("required", False) == spec.get("required", False), name
    assert options["state"]["choices"] == list(mod.STATES) == mod.ARGUMENT_SPEC["state"]["choices"]
    # The only secret option is never logged; the plan itself holds no password (SEC-1).
    assert mod.ARGUMENT_SPEC["password"]["no_log"] is True
    assert [k for k, v in mod.ARGUMENT_SPEC.items() if v.get("no_log")] == ["password"]


def test_examples_use_only_documented_options() -> None:
    examples = yaml.safe_load(mod.EXAMPLES)
    assert examples
    states = set()
    for t in examples:
        if MODULE_NAME not in t:
            continue
        args = t[MODULE_NAME]
        assert set(args) <= set(mod.ARGUMENT_SPEC), t["name"]
        assert "plan" in args
        states.add(args.get("state", "deployed"))
    assert states == set(mod.STATES)


def test_return_documents_what_every_run_returns() -> None:
    ret = yaml.safe_load(mod.RETURN)
    assert {"operation", "ok", "nodes", "problems", "notes", "failed_nodes", "findings", "diff"} <= set(ret)
    for key, spec in ret.items():
        assert {"description", "returned", "type"} <= set(spec), key
