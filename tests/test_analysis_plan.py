"""The analyses as a registry over a typed context: each runs alone with what it needs, the plan printed before the
work counts exactly the images the work makes, and the library names parameters, not command-line flags."""

from __future__ import annotations

import numpy as np
import pytest

from interfacegan.analysis import ANALYSES, REGISTRY, analyze_run
from interfacegan.analysis.base import Analysis
from interfacegan.analysis.correlation import pearson_matrix
from interfacegan.analysis.tables import read_csv
from tests.analysis_helpers import CountingFeatures, CountingToyScorer, toy_run_with_w

SMALL = dict(num_rescore=40, num_identity=3, num_distance=10, sweep=(-1.0, 2.0), sefa_k=3, ratio=0.1,
             progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def run_zw(tmp_path_factory):
    """A 600-sample toy run with z and w codes and its toy scores: (model, store)."""
    return toy_run_with_w(tmp_path_factory.mktemp("plan") / "run", num=600, chunk_rows=128)


def test_the_plan_counts_exactly_the_images_the_analyses_make(run_zw, tmp_path):
    model, store = run_zw
    scorer, features = CountingToyScorer(), CountingFeatures()
    result = analyze_run(store, tmp_path / "out", model=model, scorers=[scorer], identity_scorer=features,
                         estimate=False, **SMALL)  # fmt: skip
    plan = result.plan
    assert list(result.skipped) == ["sefa_levels"] and plan.costs is None  # the toy has no W+ style layers
    assert scorer.images == plan.images and features.images == plan.identity_images
    work = {a.name: a for a in plan.analyses}
    # rescore: per space (z, w) 40 unedited + 40 x (3 boundaries + 2 auto-conditional directions)
    assert work["rescore"].work.samples == 40 and work["rescore"].images == 2 * 40 * (1 + 3 + 2)
    assert work["layers"].images == 40 + 40 * 3 * 3  # W+ unedited, 3 W boundaries x (all, 0-1, 2-3)
    assert work["separability"].images == 0 and "no images" in work["separability"].work.detail
    lines = plan.lines()
    assert lines[0] == f"plan: 8 analyses of {store.path} (600 samples)"
    assert any(line.split()[0] == "rescore" and "M = 40" in line for line in lines[1:])


def test_plan_only_measures_and_writes_nothing(run_zw, tmp_path):
    model, store = run_zw
    result = analyze_run(store, tmp_path / "out", model=model, plan_only=True, **SMALL)
    assert not (tmp_path / "out").exists() and result.plan.images > 0
    assert result.plan.costs is not None and result.plan.seconds > 0  # measured on a few of the run's rows
    assert "estimate about" in result.plan.lines()[-1]


def test_the_command_prints_the_plan_before_the_work(toy_run, tmp_path):
    from typer.testing import CliRunner

    from interfacegan.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["analyze", "rescore", str(toy_run.path), "--out", str(tmp_path / "a"), "--num", "20",
                              "--ratio", "0.1", "--plan", "--quiet"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert out.output.startswith("plan: 1 analysis of") and "estimate about" in out.output
    assert not (tmp_path / "a").exists()
    done = runner.invoke(app, ["analyze", "correlation", str(toy_run.path), "--out", str(tmp_path / "b"), "--quiet"])
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert "boundaries: not needed" in text and "wrote 1 CSV table and 1 image" in text  # nothing trained
    assert not (tmp_path / "b" / "boundaries").exists()


def test_the_printed_plan_keeps_analysis_names_that_are_also_parameters(toy_run, tmp_path):
    """`sefa_levels` names an analysis and a parameter (--sefa-level): the plan's row keeps the analysis name."""
    from typer.testing import CliRunner

    from interfacegan.cli import app

    out = CliRunner().invoke(app, ["analyze", "sefa_levels", str(toy_run.path), "--out", str(tmp_path / "a"),
                                   "--ratio", "0.1", "--plan", "--quiet"])  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = [line.split()[0] for line in out.output.splitlines()[3:] if line.strip()]
    assert rows[0] == "sefa_levels" and "--sefa-level" not in rows, out.output


def test_boundaries_alone_computes_the_attribute_correlation_it_shows(toy_run, toy, tmp_path):
    """Regression: `analyze boundaries` alone wrote an all-NaN 'attribute correlation' column (it read a cache that
    only the correlation step filled)."""
    result = analyze_run(toy_run, tmp_path / "out", analyses=["boundaries"], model=toy, **SMALL)
    assert list(result.seconds) == ["planning", "boundaries", "total"]
    _, header, rows = read_csv(tmp_path / "out" / "correlation_vs_cosine.csv")
    column = [float(r[header.index("attribute correlation (synthesized)")]) for r in rows]
    names, corr, _ = pearson_matrix(toy_run.scores())
    expected = [corr[names.index(a), names.index(b)] for a, b in (r[0].split(" / ") for r in rows)]
    assert len(column) == 3 and np.allclose(column, expected)


def test_the_registry_is_the_list_of_analyses_and_the_command_has_one_subcommand_each():
    import typer.main

    from interfacegan.cli import app

    assert ANALYSES == ("separability", "correlation", "boundaries", "rescore", "layers", "identity", "distance",
                        "sefa_levels", "sefa")  # the report's order  # fmt: skip
    assert all(isinstance(a, Analysis) and a.title and a.description for a in REGISTRY)

    class Unlisted(Analysis):  # a subclass elsewhere is not an analysis of `analyze` until registered
        name = "unlisted"

        def run(self, ctx, out):
            raise AssertionError

    from interfacegan.analysis import registry

    assert "unlisted" not in registry.ANALYSES
    group = typer.main.get_command(app).commands["analyze"]
    assert set(group.list_commands(None)) == {"all", *ANALYSES}


def test_the_analyze_command_writes_the_analyses_parameters_as_its_options():
    """Errors and skip reasons of the analyses say `scorers`, sefa_layers...; the CLI adds its option names."""
    import typer

    from interfacegan.cli import app
    from interfacegan.cli.analyze import API_NAMES, with_flags
    from interfacegan.cli.flags import invoked_command, option_flags

    # (the analyses' own strings name no option: tests/test_layout_rules.py checks the whole package)
    # one engine (cli.flags) for every command: analyze adds only the API parameters it passes under another name
    command = invoked_command(typer.main.get_command(app), ["analyze", "rescore"])
    assert set(API_NAMES.values()) <= set(option_flags(command)), "an API_NAMES target is no option of analyze"
    assert with_flags("give `scorers` (or `identity_scorer`); leave sefa_layers unset", command) == (
        "give --scorer (or --identity-scorer); leave --sefa-layers unset")
    assert with_flags("num_rescore must be positive; give `boundaries` or `boundaries_dir`", command) == (
        "--num must be positive; give --boundary or --boundaries")
