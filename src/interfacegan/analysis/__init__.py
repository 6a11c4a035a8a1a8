"""The paper's measurements as a registry of small analyses over a typed context, written as CSV files, PNG
plots and one HTML report (`analyze_run` runs them on a run).

    run.py        analyze_run: check, plan (work and time estimate), run each analysis, write the report
    registry.py   REGISTRY / ANALYSES: the analyses in report order, one import line each
    base.py       Analysis (skip_reason, work, run) and Work: what an analysis module implements
    steps/        one module per analysis: separability, correlation, boundaries, rescore, layers, identity,
                  distance, sefa_levels (SeFa per layer level), sefa (InterFaceGAN vs. SeFa vs. GANSpace)
    context.py    AnalysisContext: run, model, scorers, boundaries, baselines, re-scoring and identity results,
                  each computed once on first use
    inputs.py     which scorers re-score (never code a run names) and which boundaries are analysed
    plan.py       AnalysisPlan: the work and its estimate, printed before starting
    settings.py, conditions.py, outputs.py, report.py (the HTML report), tables.py, plots.py
    correlation, separability, identity, distance, property2, sefa_match (matching unsupervised directions to
                  boundaries): the measurements on arrays
Adding an analysis: a module in steps/ with an `Analysis` subclass and one import line in registry.py.
"""

from interfacegan.analysis.outputs import AnalysisResult
from interfacegan.analysis.plan import AnalysisPlan
from interfacegan.analysis.registry import ANALYSES, REGISTRY
from interfacegan.analysis.run import analyze_run
from interfacegan.analysis.settings import QUICK, AnalysisSettings

__all__ = ["ANALYSES", "QUICK", "REGISTRY", "AnalysisPlan", "AnalysisResult", "AnalysisSettings", "analyze_run"]
