"""The NAB runner (bench/nab.py) on a NAB-shaped checkout built from the tuning set beside the
repository: three AWS series under realAWSCloudwatch/, one more filed as a held-out category.
The results are in NAB's layout with its columns, each score is what the detector says record by
record from a cold start, and the split scores are the real-data scorer's at the corpus's one
threshold."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import nab, realdata
from skyloop.detection import make_detector

TUNING = ["ec2_cpu_utilization_24ae8d.csv", "ec2_network_in_257a54.csv", "rds_cpu_utilization_e47b3b.csv"]
HELD_OUT = "grok_asg_anomaly.csv"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    if not realdata.available():
        pytest.skip("the real-data set is not beside the repository (../shared/data/cloud-metrics)")
    windows = json.loads((realdata.DATA / "anomaly-windows.json").read_text())
    labels = {}
    for category, name in [("realAWSCloudwatch", n) for n in TUNING] + [("realKnownCause", HELD_OUT)]:
        (tmp_path / "data" / category).mkdir(parents=True, exist_ok=True)
        shutil.copy(realdata.DATA / name, tmp_path / "data" / category / name)
        labels[f"{category}/{name}"] = windows[name]
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return tmp_path


def test_results_are_in_nabs_layout_and_scored_from_a_cold_start(checkout: Path) -> None:
    summary = nab.main([str(checkout), "--jobs", "1"])

    out = checkout / "results" / "skyloop" / "realKnownCause" / f"skyloop_{HELD_OUT}"
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    with (checkout / "data" / "realKnownCause" / HELD_OUT).open() as fh:
        source = list(csv.DictReader(fh))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"]
    assert [(r["timestamp"], r["value"]) for r in rows] == [(r["timestamp"], r["value"]) for r in source]

    series = realdata.read_series(checkout / "data" / "realKnownCause" / HELD_OUT,
                                  json.loads((checkout / "labels" / "combined_windows.json").read_text())
                                  [f"realKnownCause/{HELD_OUT}"])
    expected = realdata.run_streaming(lambda: make_detector("default"), series)
    assert np.allclose([float(r["anomaly_score"]) for r in rows], expected, atol=5e-7)
    inside = {i for a, b in series.windows for i in range(a, b + 1)}
    assert {i for i, r in enumerate(rows) if r["label"] == "1"} == inside and inside

    assert summary["corpus"]["files"] == 4
    assert (summary["tuning"]["files"], summary["held_out"]["files"]) == (3, 1)
    got = json.loads((checkout / "results" / "skyloop" / "skyloop_summary.json").read_text())
    assert got == summary
    held_score, _ = realdata.set_score([expected], [series], summary["threshold"])
    assert summary["held_out"]["score"] == round(held_score, 1)


def test_parameters_reach_the_detector(checkout: Path) -> None:
    plain = nab.main([str(checkout), "--jobs", "1", "--name", "a"])
    bold = nab.main([str(checkout), "--jobs", "2", "--name", "b", "--params", json.dumps({"warmup": 400})])
    assert bold["params"] == {"warmup": 400}
    a = (checkout / "results" / "a" / "realKnownCause" / f"a_{HELD_OUT}").read_text()
    b = (checkout / "results" / "b" / "realKnownCause" / f"b_{HELD_OUT}").read_text()
    assert a != b and plain["params"] == {}


@pytest.mark.parametrize("argv, says", [
    (["{dir}/nowhere"], "is not a NAB checkout"),
    (["{dir}", "--params", "{not json"], "--params is not JSON"),
    (["{dir}", "--params", "[4]"], "must be a JSON object"),
    (["{dir}", "--params", '{"shape": "sometimes"}'], "shape must be one of"),
    (["{dir}", "--params", '{"nope": 1}'], "unexpected keyword argument 'nope'"),
    (["{dir}", "--detector", "bogus"], "unknown detector 'bogus'"),
])
def test_a_wrong_argument_is_one_line_not_a_traceback(checkout: Path, capsys: pytest.CaptureFixture[str],
                                                      argv: list[str], says: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        nab.main([a.replace("{dir}", str(checkout)) for a in argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and not (checkout / "results").exists()
