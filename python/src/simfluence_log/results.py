"""The CLI's outputs as pandas DataFrames (when pandas is installed) or plain lists of dicts.

    from simfluence_log import results
    scores = results.read_evaluation("eval.json")             # simfluence evaluate ... --json
    preds = results.read_predictions("predictions.jsonl")    # evaluate --predictions FILE
    ranks = results.read_attribution("attribution.csv")      # simfluence attribute (CSV or --json)
    sim = results.read_simulation("simulated.csv")           # simfluence simulate (CSV or --json)

Every reader takes a path, an open file, or the output itself as a string (text that starts
with '{' or holds a line break, e.g. what :func:`simfluence_log.cli.run` returns).

``as_frame``: None (default) gives a DataFrame when pandas can be imported, else a list of
dicts (one per row); True requires pandas; False always gives the list. DataFrames carry the
output's context in ``.attrs`` (held-out runs, method, references).

Ids that are canonical integers ("7", not "007") become ints, as they are in a log written
with integer ids; ``int_ids=False`` keeps them as strings. Missing numbers (JSON null, an
undefined Spearman, a diverged prediction) are NaN.
"""

import csv
import io
import json
import math
import os
import re

__all__ = ["read_evaluation", "read_predictions", "read_attribution", "read_simulation"]

_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)\Z")


def _text(source):
    if hasattr(source, "read"):
        return source.read()
    if isinstance(source, str) and (source.lstrip().startswith(("{", "[")) or "\n" in source):
        return source
    with open(os.fspath(source), encoding="utf-8") as f:
        return f.read()


def _id(value, int_ids):
    if int_ids and isinstance(value, str) and _CANONICAL_INT.match(value):
        return int(value)
    if not int_ids and not isinstance(value, str):
        return str(value)
    return value


def _num(value):
    if value is None or value == "":
        return math.nan
    return float(value)


def _frame(rows, columns, as_frame, attrs=None):
    if as_frame is False:
        return rows
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise ImportError("as_frame=True needs pandas: pip install pandas (or the simfluence-log[pandas] extra)")
        return rows
    df = pd.DataFrame.from_records(rows, columns=columns)
    df.attrs.update(attrs or {})
    return df


def _is_json(text):
    return text.lstrip().startswith(("{", "["))


def read_evaluation(source, *, as_frame=None):
    """``simfluence evaluate --json``: one row per method and baseline, with every score column
    (``method``, ``lambda``, ``all_steps_mse``, ..., ``spearman_across_runs``, ...,
    ``fit_seconds``, ``cross_validation`` as a dict). ``.attrs``: ``heldout_runs``, ``training_runs``."""
    doc = json.loads(_text(source))
    if not isinstance(doc, dict) or "results" not in doc:
        raise ValueError("not the output of 'simfluence evaluate --json' (no \"results\")")
    rows, columns = [], []
    for r in doc["results"]:
        row = {}
        for k, v in r.items():
            if k not in columns:
                columns.append(k)
            row[k] = math.nan if v is None and k != "cross_validation" else v
        rows.append(row)
    return _frame(rows, columns, as_frame, {"heldout_runs": doc.get("heldout_runs", []),
                                            "training_runs": doc.get("training_runs", [])})


def read_predictions(source, *, as_frame=None, int_ids=True):
    """``evaluate --predictions FILE`` (JSON lines, one per run and test example): one row per
    (method, run, test example, step) with ``method``, ``run``, ``test_id``, ``step``,
    ``predicted`` and ``true`` (NaN when there is no recorded run)."""
    rows = []
    for n, line in enumerate(_text(source).splitlines(), 1):
        if not line.strip():
            continue
        try:
            p = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError("line %d of the predictions is not JSON: %s" % (n, e)) from None
        first = p["first_step"]
        truth = p.get("true")
        for r, value in enumerate(p["predicted"]):
            rows.append({"method": p.get("method"), "run": p["run"], "test_id": _id(p["test_id"], int_ids),
                         "step": first + r, "predicted": _num(value),
                         "true": math.nan if truth is None else _num(truth[r])})
    return _frame(rows, ["method", "run", "test_id", "step", "predicted", "true"], as_frame)


def _csv_rows(text):
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ValueError("empty CSV")
    return header, [r for r in reader if r]


def read_attribution(source, *, as_frame=None, int_ids=True):
    """``simfluence attribute`` output, CSV or ``--json``. Per test example: rows ``test_id``,
    ``rank``, ``train_id``, ``effect``, ``sign``. With ``--aggregate``: rows ``rank``,
    ``train_id``, ``effect``, ``sign``, ``tests_helped``, ``tests_hurt``. (Negative effect: the
    training example lowers the test loss.) From JSON, ``.attrs`` holds ``method``,
    ``references`` and, aggregated, ``aggregate``."""
    text = _text(source)
    per_test = ["test_id", "rank", "train_id", "effect", "sign"]
    aggregated = ["rank", "train_id", "effect", "sign", "tests_helped", "tests_hurt"]
    if _is_json(text):
        doc = json.loads(text)
        attrs = {k: doc[k] for k in ("method", "references", "aggregate", "test_examples") if k in doc}
        if "tests" in doc:
            rows = [{"test_id": _id(t["test_id"], int_ids), "rank": int(r["rank"]),
                     "train_id": _id(r["train_id"], int_ids), "effect": _num(r["effect"]), "sign": r["sign"]}
                    for t in doc["tests"] for r in t["ranking"]]
            return _frame(rows, per_test, as_frame, attrs)
        if "ranking" in doc:
            rows = [{"rank": int(r["rank"]), "train_id": _id(r["train_id"], int_ids), "effect": _num(r["effect"]),
                     "sign": r["sign"], "tests_helped": int(r["tests_helped"]), "tests_hurt": int(r["tests_hurt"])}
                    for r in doc["ranking"]]
            return _frame(rows, aggregated, as_frame, attrs)
        raise ValueError("not the output of 'simfluence attribute --json' (no \"tests\" or \"ranking\")")
    header, data = _csv_rows(text)
    if header == per_test:
        rows = [{"test_id": _id(t, int_ids), "rank": int(k), "train_id": _id(i, int_ids), "effect": _num(e), "sign": s}
                for t, k, i, e, s in data]
        return _frame(rows, per_test, as_frame)
    if header == aggregated:
        rows = [{"rank": int(k), "train_id": _id(i, int_ids), "effect": _num(e), "sign": s,
                 "tests_helped": int(h), "tests_hurt": int(u)} for k, i, e, s, h, u in data]
        return _frame(rows, aggregated, as_frame)
    raise ValueError("not the output of 'simfluence attribute': unexpected CSV header %s" % ",".join(header))


def read_simulation(source, *, as_frame=None, int_ids=True):
    """``simfluence simulate`` output, CSV or ``--json``: rows ``test_id``, ``step``, ``loss``
    (and ``lower``, ``upper`` with ``--bootstrap``). From JSON, ``.attrs`` holds ``method``."""
    text = _text(source)
    if _is_json(text):
        doc = json.loads(text)
        if "trajectories" not in doc:
            raise ValueError("not the output of 'simfluence simulate --json' (no \"trajectories\")")
        start = doc.get("start_step", 0)
        bands = "lower" in doc and "upper" in doc
        rows = []
        for k, t in enumerate(doc["trajectories"]):
            for r, value in enumerate(t["loss"]):
                row = {"test_id": _id(t["test_id"], int_ids), "step": start + r, "loss": _num(value)}
                if bands:
                    row["lower"], row["upper"] = _num(doc["lower"][k][r]), _num(doc["upper"][k][r])
                rows.append(row)
        columns = ["test_id", "step", "loss"] + (["lower", "upper"] if bands else [])
        return _frame(rows, columns, as_frame, {"method": doc.get("method")})
    header, data = _csv_rows(text)
    if header[:3] != ["test_id", "step", "loss"] or header[3:] not in ([], ["lower", "upper"]):
        raise ValueError("not the output of 'simfluence simulate': unexpected CSV header %s" % ",".join(header))
    rows = []
    for values in data:
        row = {"test_id": _id(values[0], int_ids), "step": int(values[1]), "loss": _num(values[2])}
        if len(header) == 5:
            row["lower"], row["upper"] = _num(values[3]), _num(values[4])
        rows.append(row)
    return _frame(rows, header, as_frame)
