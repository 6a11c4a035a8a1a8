"""The paper's measurements as functions, plots and one HTML report (`analyze_run` runs them all on a run).

Modules: `separability` (Fig. 3), `correlation` (Tab. 1/2), `rescoring_table` (Tab. 3/4, SeFa Tab. 2),
`identity` (Tab. 5), `distance` and `property2` (Fig. 6, Property 2), `sefa_match`, `plots`, `tables`,
`report`, `steps` (one function per analysis) and `run` (`analyze_run`).
"""

from interfacegan.analysis.run import ANALYSES, QUICK, AnalysisResult, AnalysisSettings, analyze_run

__all__ = ["ANALYSES", "QUICK", "AnalysisResult", "AnalysisSettings", "analyze_run"]
