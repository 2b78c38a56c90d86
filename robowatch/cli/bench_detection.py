"""``robowatch bench skab|cmapss``: detector accuracy on public data sets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from robowatch.cli.bench import app

DataOpt = Annotated[Path, typer.Option("--data", help="Data directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Last line: one JSON object.")]


@app.command("skab")
def skab(data: DataOpt = Path("../shared/data/skab"), json_out: JsonOpt = False,
         policy: Annotated[Path | None, typer.Option(help="Outlier policy TOML.")] = None,
         changepoint_policy: Annotated[
             Path | None, typer.Option(help="Changepoint policy TOML.")] = None) -> None:
    """SKAB outlier and changepoint scores beside the published tables.

    Ours: outliers from the PCA T^2+Q monitor, changepoints from the mean-shift detector
    (two detectors, as the published tables score each algorithm on both problems).
    """
    from detection.benchmarks import skab as sk
    from detection.monitor import load_changepoint_policy, load_policy, policy_as_dict

    t0 = time.perf_counter()
    try:
        files = sk.load_skab(data)
    except FileNotFoundError as exc:
        typer.echo(f"skipped: SKAB data not found ({exc})", err=True)
        raise typer.Exit(3) from exc
    pol = load_policy(policy)
    cp_pol = load_changepoint_policy(changepoint_policy)
    outliers = sk.monitor_predictor(pol)
    ours = sk.evaluate(files, outliers, changepoints=sk.changepoint_predictor(cp_pol))
    alarm_cps = sk.evaluate(files, outliers)
    iforest = sk.evaluate(files, sk.iforest_predictor)
    typer.echo(f"{'algorithm':34} {'F1':>5} {'FAR%':>6} {'MAR%':>6}   NAB std/lowfp/lowfn")
    rows = (("robowatch (ours)", ours),
            ("  PCA alarm as changepoints", alarm_cps),
            ("Isolation forest (rerun)", iforest))
    for name, r in rows:
        j = r.as_json()
        typer.echo(f"{name:34} {j['f1']:5.2f} {100 * j['far']:6.2f} {100 * j['mar']:6.2f}   "
                   f"{j['nab_standard']:.2f} / {j['nab_lowfp']:.2f} / {j['nab_lowfn']:.2f}")
    for name, (f1, far, mar) in sk.PUBLISHED_OUTLIER.items():
        nab = sk.PUBLISHED_NAB.get(name)
        nab_s = " / ".join(f"{v:.2f}" for v in nab) if nab else "-"
        typer.echo(f"{name + ' (published)':34} {f1:5.2f} {far:6.2f} {mar:6.2f}   {nab_s}")

    def plain(p: Any) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in policy_as_dict(p).items()}

    out = ours.as_json() | {"nab_from_outlier_alarm": _nab_only(alarm_cps.as_json()),
                            "iforest_rerun": iforest.as_json(),
                            "policy": plain(pol), "changepoint_policy": plain(cp_pol),
                            "seconds": round(time.perf_counter() - t0, 1)}
    if json_out:
        typer.echo(json.dumps(out))


def _nab_only(j: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in j.items() if k.startswith("nab_")}


@app.command("cmapss")
def cmapss(data: DataOpt = Path("../shared/data/cmapss"), json_out: JsonOpt = False,
           out: Annotated[Path, typer.Option("--out", help="unit,rul CSV of test engines.")]
           = Path("rul_FD001.csv")) -> None:
    """C-MAPSS FD001 RUL: grouped CV on training engines, predictions for the test set."""
    from detection.benchmarks import cmapss as cm

    t0 = time.perf_counter()
    try:
        train = cm.load_cmapss(data / "train_FD001.txt")
        test = cm.load_cmapss(data / "test_FD001.txt")
    except FileNotFoundError as exc:
        typer.echo(f"skipped: C-MAPSS data not found ({exc})", err=True)
        raise typer.Exit(3) from exc
    cv = cm.cross_validate(train)
    pred = cm.fit_predict_test(train, test)
    pred.to_csv(out, index=False)
    typer.echo(f"{'model':28} {'RMSE':>7} {'NASA score':>10}")
    typer.echo(f"{'robowatch HGB (ours, CV)':28} {cv.cv_rmse:7.2f} {cv.cv_nasa_score:10.1f}")
    for name, (r, s) in cm.PUBLISHED.items():
        typer.echo(f"{name + ' (published, test)':28} {r:7.2f} {s:10.1f}")
    typer.echo(f"wrote {len(pred)} predictions to {out}")
    if json_out:
        typer.echo(json.dumps(cv.as_json() | {"out": str(out), "test_units": len(pred),
                                              "seconds": round(time.perf_counter() - t0, 1)}))
