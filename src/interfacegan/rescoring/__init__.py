"""Re-scoring edits: edit codes, score the edited images again, measure how every attribute moved.

    rescore   images of edited codes, scored again (streamed)
    matrix    re-scoring matrices with THE normalised score change (CHANGE_DEFINITION) of the analyses
    naming    SeFa naming with the same measurement, fixed evaluation samples and an explicit rule (NAMING_RULE)
"""
