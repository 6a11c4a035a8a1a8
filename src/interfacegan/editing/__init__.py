"""Editing latent codes along directions: one engine for the `edit` command, the analyses, SeFa naming, the
translator's pairs and the browser editor.

    manipulation  pure math on arrays/tensors: offsets, distances, conditional directions, layer-wise W+ edits
    plan          EditPlan (space, W+ layers, vector, conditional direction + cosine) and THE fit check
    codes         codes to edit: rows of a run (CodeSource) or fresh samples of a seed (SampledCodes)
    stream        images of edited codes, streamed in bounded blocks
    run           EditRequest -> image grid of a run's samples, saved as PNG/GIF/MP4 (render)
"""

from interfacegan.editing.plan import EditPlan, check_fits, plan_edit, vector_plan
from interfacegan.editing.run import EditRequest, EditResult, edit_codes, edit_run, save_edit

__all__ = ["EditPlan", "EditRequest", "EditResult", "check_fits", "edit_codes", "edit_run", "plan_edit",
           "save_edit", "vector_plan"]  # fmt: skip
