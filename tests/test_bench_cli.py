"""`garment-studio bench` runs every measurement and writes its numbers (no speed thresholds here)."""

import json

from app.cli.main import main
from inference.contract_models import write_contract_model


def test_bench_reports_stages_fps_and_batch_throughput(tmp_path, capsys):
    card = write_contract_model(tmp_path / "model")
    out = tmp_path / "bench.json"
    code = main(["bench", "--model", str(card), "--provider", "cpu", "--seconds", "0.05", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "provider cpu" in printed and "cores" in printed
    report = json.loads(out.read_text())
    assert report["provider"] == "cpu" and report["machine"]["cores"] >= 1
    for key in ("batch1_1_garment", "batch1_5_garment"):
        r = report[key]
        assert r["frames"] >= 5 and r["fps"] > 0
        assert set(r["ms"]) == {"pre", "detect", "pose", "post", "total"}
        assert all(r["ms"][s]["mean"] > 0 for s in ("pre", "detect", "pose", "post"))
        assert r["detector_found_expected_fraction"] == 1.0  # the drawn frames suit the contract detector
    live = report["live_1_garment_tracked"]
    assert live["fps"] > 0 and 0 < live["detector_ran_fraction"] < 1  # the tracker skips the detector
    assert report["pose_batch_16"]["crops_per_s"] > 0 and report["pose_batch_64"]["batch"] == 64


def test_graph_latency_benchmark_writes_its_numbers_and_refuses_bad_arguments(tmp_path, capsys):
    import pytest

    from app.training.benchmark import main as graph_benchmark

    card = write_contract_model(tmp_path / "model")
    out = tmp_path / "graphs.json"
    assert graph_benchmark(["--model", str(card), "--runs", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["runs"] == 3 and report["pose_batch4_ms"]["per_crop"] == pytest.approx(
        report["pose_batch4_ms"]["median"] / 4)
    assert report["detector_ms"]["median"] > 0
    assert graph_benchmark(["--model", str(tmp_path / "nowhere")]) == 2
    assert "model card not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        graph_benchmark(["--model", str(card), "--runs", "0"])
