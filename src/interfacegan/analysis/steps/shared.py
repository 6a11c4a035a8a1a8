"""What several analyses write alike: re-scoring matrices as tables and heatmaps, and their notes."""

from __future__ import annotations

import numpy as np

from interfacegan.analysis import plots
from interfacegan.analysis.settings import AnalysisSettings
from interfacegan.analysis.tables import Table, matrix_table
from interfacegan.report import plural
from interfacegan.rescoring.matrix import CHANGE_DEFINITION, Edit, RescoringResult

CHANGE_UNIT = "normalised score change (std of the unedited score)"


def alpha_note(settings: AnalysisSettings) -> str:
    return (f"alpha = {settings.alpha:g}: each code x moves to x + alpha n with n the unit normal "
            "(alpha is in latent units; in Z the distances n.z of sampled codes have std 1)")  # fmt: skip


def samples_note(num: int) -> str:
    """'M = 300 samples (rows 0-299 of the run)'."""
    rows = "row 0" if num == 1 else f"rows 0-{num - 1}"
    return f"M = {plural(num, 'sample')} ({rows} of the run)"


def change_table(name: str, title: str, result: RescoringResult, notes: list[str]) -> Table:
    """A re-scoring matrix (edits x attributes) as a table, with the definition of its unit first."""
    return matrix_table(name, title, result.labels, result.attributes, result.change, corner="edit \\ score",
                        notes=[CHANGE_DEFINITION, *notes])  # fmt: skip


def change_heatmap(out, result: RescoringResult, stem: str, title: str, caption: str) -> None:
    """A re-scoring matrix as a heatmap whose colour bar reads in normalised change."""
    out.plot(plots.heatmap(result.change, result.labels, result.attributes, title, CHANGE_UNIT), stem, caption)


def stack_rows(rows: list[tuple[RescoringResult, int]], edits: list[Edit]) -> RescoringResult:
    """A matrix of chosen rows (result, row index) of results with the same columns, relabelled by `edits`."""
    first = rows[0][0]

    def stack(attr):
        return np.stack([getattr(r, attr)[i] for r, i in rows])

    return RescoringResult(list(edits), first.attributes, first.alpha, first.num, stack("change"), stack("raw_change"),
                           stack("stderr"), stack("increased"), stack("valid"), first.std)  # fmt: skip
