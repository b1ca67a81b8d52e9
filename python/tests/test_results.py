"""simfluence_log.results on real outputs of the CLI (the shipped example log), as DataFrames and
as lists, and on small hand-written outputs."""

import io
import json
import math
import os

import pytest

from simfluence_log import cli as simfluence_cli
from simfluence_log import results

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, cli, repo):
    """Every output kind the readers take, from the CLI on Examples/tiny-gptdynamics."""
    d = tmp_path_factory.mktemp("outputs")
    log = os.path.join(repo, "Examples", "tiny-gptdynamics")
    curriculum = os.path.join(log, "runs", "run12", "train_samples_id.json")
    out = {"dir": d}
    out["evaluate"] = cli("evaluate", log, "--method", "linear", "--method", "additive", "--holdout", 3, "--lambda",
                          "auto", "--json", "--predictions", d / "predictions.jsonl", "--quiet")
    cli("fit", log, "--lambda", 0.1, "-o", d / "model.simfluence", "--quiet")
    model = ["--model", d / "model.simfluence", "--curriculum", curriculum]
    out["simulate_csv"] = cli("simulate", *model)
    out["simulate_json"] = cli("simulate", *model, "--json")
    out["simulate_bands"] = cli("simulate", *model, "--test", "t3", "--bootstrap", 5)
    holdout = [log, "--holdout", 3, "--lambda", 0.1, "--quiet"]
    out["attribute_csv"] = cli("attribute", *holdout, "--top", 3)
    out["attribute_json"] = cli("attribute", *holdout, "--top", 3, "--json")
    out["aggregate_csv"] = cli("attribute", *holdout, "--aggregate", "mean")
    out["aggregate_json"] = cli("attribute", *holdout, "--aggregate", "mean", "--json")
    return out


def test_evaluation(outputs):
    df = results.read_evaluation(outputs["evaluate"])
    assert list(df["method"]) == ["linear", "additive", "persistence", "mean-run"]
    assert df.attrs["heldout_runs"] == ["run10", "run11", "run12"] and len(df.attrs["training_runs"]) == 9
    assert df["all_steps_mse"].dtype == float and df["lambda"].isna().tolist() == [False, False, True, True]
    assert df["spearman_across_orders"].isna().all()              # null: no order groups
    assert df.loc[0, "cross_validation"]["chosen"] == df.loc[0, "lambda"]
    rows = results.read_evaluation(io.StringIO(outputs["evaluate"]), as_frame=False)
    assert [r["method"] for r in rows] == list(df["method"])
    assert math.isnan(rows[2]["lambda"])


def test_predictions(outputs):
    df = results.read_predictions(outputs["dir"] / "predictions.jsonl")
    assert list(df.columns) == ["method", "run", "test_id", "step", "predicted", "true"]
    # 4 methods x 3 held-out runs x 10 test examples x 24 steps (GPTDynamics: steps 1..24)
    assert len(df) == 4 * 3 * 10 * 24
    assert set(df["method"]) == {"linear", "additive", "persistence", "mean-run"}
    assert df["step"].min() == 1 and df["step"].max() == 24
    assert set(df["test_id"]) == {"t%d" % i for i in range(10)}
    assert not df["true"].isna().any()
    start = df[df["step"] == 1]
    assert (start["predicted"] == start["true"]).all()           # simulations start from the real loss
    rows = results.read_predictions(str(outputs["dir"] / "predictions.jsonl"), as_frame=False)
    assert len(rows) == len(df) and rows[0]["run"] == "run10"


def test_simulation(outputs):
    csv_rows = results.read_simulation(outputs["simulate_csv"], as_frame=False)
    json_rows = results.read_simulation(outputs["simulate_json"], as_frame=False)
    assert csv_rows == json_rows
    df = results.read_simulation(outputs["simulate_json"])
    assert df.attrs["method"] == "linear" and list(df.columns) == ["test_id", "step", "loss"]
    assert len(df) == 10 * 24
    bands = results.read_simulation(outputs["simulate_bands"])
    assert list(bands.columns) == ["test_id", "step", "loss", "lower", "upper"]
    assert (bands["lower"] <= bands["upper"]).all()


def test_attribution(outputs):
    csv_rows = results.read_attribution(outputs["attribute_csv"], as_frame=False)
    json_rows = results.read_attribution(outputs["attribute_json"], as_frame=False)
    assert csv_rows == json_rows
    # --top 3: at most 3 helpful and 3 harmful examples per test example
    per_test = {t: [r for r in csv_rows if r["test_id"] == t] for t in {r["test_id"] for r in csv_rows}}
    assert len(per_test) == 10 and all(1 <= len(v) <= 6 for v in per_test.values())
    df = results.read_attribution(outputs["attribute_json"])
    assert df.attrs["references"] == ["run10", "run11", "run12"]
    assert ((df["effect"] < 0) == (df["sign"] == "helps")).all()
    agg_csv = results.read_attribution(outputs["aggregate_csv"], as_frame=False)
    agg = results.read_attribution(outputs["aggregate_json"])
    assert agg.attrs["aggregate"] == "mean"
    assert list(agg.columns) == ["rank", "train_id", "effect", "sign", "tests_helped", "tests_hurt"]
    assert agg.to_dict("records") == agg_csv
    assert (agg["tests_helped"] + agg["tests_hurt"] <= 10).all()


def test_cli_helper_runs_the_binary(simfluence_bin, repo, monkeypatch):
    monkeypatch.setenv("SIMFLUENCE_BIN", simfluence_bin)
    log = os.path.join(repo, "Examples", "tiny-gptdynamics")
    scores = results.read_evaluation(simfluence_cli.run("evaluate", log, "--holdout", 3, "--lambda", 0.1, "--json",
                                                        "--quiet"))
    assert "linear" in set(scores["method"])
    with pytest.raises(simfluence_cli.SimfluenceError, match="exited with status"):
        simfluence_cli.run("evaluate", os.path.join(repo, "no-such-log"))
    monkeypatch.setenv("SIMFLUENCE_BIN", os.path.join(repo, "no-such-binary"))
    with pytest.raises(FileNotFoundError, match="no simfluence binary at"):
        simfluence_cli.find_binary()


def test_hand_written_outputs_ids_and_plain_lists():
    text = ('{"method": "linear", "run": "r", "test_id": 7, "first_step": 0, "predicted": [1.0, null], "true": null}\n'
            '{"method": "linear", "run": "r", "test_id": "007", "first_step": 0, "predicted": [2.0, 1.5], '
            '"true": [2.0, 1.4]}\n')
    rows = results.read_predictions(io.StringIO(text), as_frame=False)
    assert [r["test_id"] for r in rows] == [7, 7, "007", "007"]
    assert math.isnan(rows[1]["predicted"]) and math.isnan(rows[0]["true"]) and rows[3]["true"] == 1.4
    assert [r["test_id"] for r in results.read_predictions(io.StringIO(text), as_frame=False, int_ids=False)] == \
        ["7", "7", "007", "007"]
    sim = results.read_simulation("test_id,step,loss\n12,0,2.5\n\"a,b\",0,1\n", as_frame=False)
    assert sim == [{"test_id": 12, "step": 0, "loss": 2.5}, {"test_id": "a,b", "step": 0, "loss": 1.0}]
    with pytest.raises(ValueError, match="unexpected CSV header"):
        results.read_simulation("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no \"results\""):
        results.read_evaluation("{}")
    ev = {"heldout_runs": ["x"], "training_runs": [], "results": [{"method": "linear", "lambda": None,
                                                                    "spearman_across_runs": None}]}
    df = results.read_evaluation(json.dumps(ev))
    assert df["spearman_across_runs"].isna().all() and df.attrs["heldout_runs"] == ["x"]


def test_without_pandas(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    rows = results.read_simulation("test_id,step,loss\n1,0,2.5\n")
    assert rows == [{"test_id": 1, "step": 0, "loss": 2.5}]
    with pytest.raises(ImportError, match="as_frame=True needs pandas"):
        results.read_simulation("test_id,step,loss\n1,0,2.5\n", as_frame=True)
