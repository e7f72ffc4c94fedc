"""Loss curves drawn from runs' CSV logs."""

from __future__ import annotations

import pytest

from musicgen.commands.curves import main
from musicgen.render.curves import epoch_losses

CSV = """epoch,step,train/loss,val/loss
0,9,5.0,
0,19,4.0,
0,19,,4.5
1,29,3.0,
1,39,2.0,
1,39,,4.2
"""


def _run(tmp_path, name: str):
    run = tmp_path / name
    (run / "csv").mkdir(parents=True)
    (run / "csv" / "metrics.csv").write_text(CSV)
    return run


def test_training_loss_is_the_mean_of_each_epochs_steps(tmp_path):
    curves = epoch_losses(_run(tmp_path, "a") / "csv" / "metrics.csv")
    assert curves == {"train": [(0, 4.5), (1, 2.5)], "val": [(0, 4.5), (1, 4.2)]}


def test_the_command_draws_several_runs_into_one_png(tmp_path, capsys):
    out = tmp_path / "loss.png"
    main([str(out), str(_run(tmp_path, "a")), str(_run(tmp_path, "b")), "--title", "two runs"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.strip() == str(out)


def test_a_folder_without_a_csv_log_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "loss.png"), str(tmp_path / "empty")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'empty'}: no metrics.csv (train with logger=csv, the default)"
    )
