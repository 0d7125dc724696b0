"""The defect the Wine judge found (#14): a scripts_dir with ``,`` ``;`` or ``=`` and no blank.

``cmd /c "<path>"`` keeps the quotes only when there is a blank between them (and no special
character, and the path names a file: ``cmd /?``); otherwise it strips them and reads the path as an
unquoted command, where ``, ; =`` end the command name. Every batch file of such a folder, the
scheduled run string and the failover one-shot failed with 9009 ("not recognized"). Wine's cmd.exe
shows it, and so does the simulator's model since the differential check caught it running the
file; clpbackup now refuses such a folder at load (``tests/unit/test_plan.py``).
"""

from __future__ import annotations

import pytest

from clpbackup.errors import PlanError
from clpbackup.plan import Plan
from clpbackup.platforms import run_batch
from clpbackup.testing.model import SimulatedWindows
from tests.wine.wine import Step, WinePrefix

pytestmark = pytest.mark.wine

_BATCH = b"@echo off\r\nwbadmin start backup -quiet\r\nexit /b %ERRORLEVEL%\r\n"


@pytest.mark.parametrize("folder", ["C:\\clp;b", "C:\\clp,b", "C:\\clp=b"])
def test_cmd_c_splits_an_unquoted_folder_at_a_delimiter_so_the_plan_refuses_it(
    folder: str, wine: dict[int, WinePrefix]
) -> None:
    prefix = wine[437]
    prefix.reset(set())
    spaced = folder + " x"
    for f in (folder, spaced):
        prefix.write(f + "\\job.bat", _BATCH)
    # the run string as the scheduler stores it, built the way clpbackup built it before the fix
    broken, kept = (f'cmd /c "{f}\\job.bat"' for f in (folder, spaced))
    [(_l1, without_blank), (_l2, with_blank)] = prefix.launch([Step(broken), Step(kept)])
    assert without_blank.rc == 9009 and without_blank.records == ()
    assert with_blank.rc == 0 and [r.program for r in with_blank.records] == ["wbadmin"]
    # the simulator's cmd.exe model agrees (it ran the file until this was found: a differential
    # disagreement, fixed in model/cmd.py)
    model = SimulatedWindows("node-a", "2012")
    for f in (folder, spaced):
        model.write_file(f + "\\job.bat", _BATCH)
    assert model.run_scheduled(broken) == 9009
    assert not [r for r in model.history if r.program == "wbadmin"]

    data = {
        "cluster": {"name": "prod", "failover_group": "failover1", "switchover_volumes": ["E:"]},
        "nodes": [
            {"name": "node-a", "host": "192.0.2.11", "os": "2012", "home": True},
            {"name": "node-b", "host": "192.0.2.12", "os": "2012"},
        ],
        "scripts_dir": folder,
        "jobs": {"shared": {"scope": "switchover", "include": ["E:"], "target": "\\\\nas\\b\\{node}"}},
    }
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    assert info.value.field == "scripts_dir"
    with pytest.raises(PlanError):
        run_batch(folder + "\\job.bat")
