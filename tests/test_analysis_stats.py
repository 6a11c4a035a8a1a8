"""Statistics of the analysis against hand-computed values: correlations, cosines, Property 2, tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interfacegan.analysis.correlation import cosine_matrix, load_real_scores, pearson_matrix
from interfacegan.analysis.property2 import ProjectionStats, exact_tail, paper_bound
from interfacegan.analysis.sefa_match import match_directions
from interfacegan.analysis.tables import Table, matrix_table, read_csv
from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError

NORMALS = np.array([[1.0, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 0, 1.0, 0]])  # cosines 0.6, 0, 0


def test_pearson_matches_hand_computed_values_and_skips_nan_pairwise():
    x = np.array([1.0, 2.0, 3.0, np.nan])
    y = np.array([1.0, 2.0, 4.0, 5.0])
    z = np.array([4.0, 3.0, 2.0, 1.0])
    names, corr, counts = pearson_matrix({"x": x, "y": y, "z": z})
    # x,y over rows 0-2: centred (-1,0,1) and (-4/3,-1/3,5/3): cov 3, norms sqrt(2), sqrt(42/9)
    assert corr[0, 1] == pytest.approx(3 / math.sqrt(2 * 42 / 9))
    # y,z over all rows: centred (-2,-1,1,2) and (1.5,.5,-.5,-1.5): cov -7, norms sqrt(10), sqrt(5)
    assert corr[1, 2] == pytest.approx(-7 / math.sqrt(50))
    assert corr[0, 2] == pytest.approx(-1.0)  # x and z over rows 0-2 are exactly anti-linear
    assert counts[0, 1] == 3 and counts[1, 2] == 4
    assert np.allclose(np.diag(corr), 1.0)


def test_pearson_of_constant_column_is_nan_and_empty_input_is_an_error():
    _, corr, _ = pearson_matrix({"a": np.ones(5), "b": np.arange(5.0)})
    assert math.isnan(corr[0, 1]) and math.isnan(corr[0, 0])
    with pytest.raises(InterfaceGANError):
        pearson_matrix({})


def test_cosine_matrix_of_known_normals_any_length():
    cos = cosine_matrix(NORMALS * np.array([[2.0], [0.5], [3.0]]))
    assert np.allclose(cos, [[1, 0.6, 0], [0.6, 1, 0], [0, 0, 1]])
    with pytest.raises(InterfaceGANError):
        cosine_matrix(np.zeros((2, 4)))


def test_attribute_correlation_of_gaussian_codes_equals_normal_cosines():
    """Paper Eq. 5: for z ~ N(0, I) and s = N^T z, corr(s_i, s_j) = n_i . n_j."""
    z = np.random.default_rng(0).standard_normal((40_000, 4))
    scores = z @ (NORMALS * np.array([[1.0], [3.0], [0.2]])).T  # any positive scale per attribute
    _, corr, _ = pearson_matrix({f"a{i}": scores[:, i] for i in range(3)})
    assert np.allclose(corr, cosine_matrix(NORMALS), atol=0.02)


def test_property2_exact_tail_and_paper_bound_by_hand():
    assert float(exact_tail(5.0)) == pytest.approx(5.733031e-7, rel=1e-5)
    assert float(exact_tail(5.0)) < 1e-6  # the paper's footnote for d = 512
    assert float(exact_tail(1.96)) == pytest.approx(0.05, abs=1e-3)
    a = 5.0 / (2 * math.sqrt(512 / 510))
    assert float(paper_bound(5.0, 512)) == pytest.approx(2 / a * math.exp(-a * a / 2))
    assert math.isnan(float(paper_bound(1.0, 512)))  # a < 1: the property says nothing
    assert float(paper_bound(5.0, 512)) > float(exact_tail(5.0))  # a valid (loose) bound


def test_property2_check_on_gaussian_codes_streams_and_flags_non_gaussian():
    rng = np.random.default_rng(1)
    d = 512
    n = rng.standard_normal((2, d))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    gauss = ProjectionStats(["a", "b"], dim=d)
    wide = ProjectionStats(["a", "b"], dim=d)
    for _ in range(5):  # chunks
        z = rng.standard_normal((4000, d)).astype(np.float32)
        gauss.update(z @ n.T)
        wide.update(2.0 * z @ n.T)
    assert gauss.count == 20_000
    assert np.allclose(gauss.second_moment, 1.0, atol=0.05)
    rows = gauss.rows()
    assert all(r[-1] for r in rows)  # consistent with the exact tail everywhere
    p_above_2 = [r[4] for r in rows if r[1] == 2.0]
    assert np.allclose(p_above_2, float(exact_tail(2.0)), atol=0.006)
    assert not all(r[-1] for r in wide.rows())  # std-2 distances are not N(0, 1)
    assert gauss.hist.sum() == 2 * 20_000


def test_table_csv_round_trip_keeps_exact_numbers_and_notes(tmp_path):
    table = matrix_table("m", "a matrix", ["r1", "r2"], ["c1", "c2"], np.array([[0.1234567891, np.nan], [-2.0, 1e-9]]),
                         notes=["definition here"])  # fmt: skip
    path = table.write_csv(tmp_path)
    notes, header, rows = read_csv(path)
    assert notes == ["definition here"] and header == ["", "c1", "c2"]
    assert float(rows[0][1]) == 0.1234567891 and rows[0][2] == "" and float(rows[1][2]) == 1e-9
    assert np.allclose(table.matrix(), [[0.1234567891, np.nan], [-2.0, 1e-9]], equal_nan=True)
    t = Table("t", "t", ["name", "flag", "n"], [["x", True, 3]])
    assert t.csv_text().splitlines()[1] == "x,yes,3"


def test_real_scores_csv_skips_text_columns(tmp_path):
    path = tmp_path / "real.csv"
    path.write_text("file,smile,age\na.png,0.5,30\nb.png,,40\n")
    scores = load_real_scores(path)
    assert list(scores) == ["smile", "age"]
    assert math.isnan(scores["smile"][1]) and scores["age"][1] == 40.0
    with pytest.raises(InterfaceGANError):
        load_real_scores(tmp_path / "missing.csv")
    path.write_text("file,smile,age\na.png,0.5,30\nb.png,-inf,40\n")  # probe: read as a missing score, silently
    with pytest.raises(InterfaceGANError, match="column 'smile' holds inf \\(data row 2\\): leave the cell empty"):
        load_real_scores(path)


def test_sefa_match_picks_largest_absolute_cosine_and_flips_sign():
    boundaries = [Boundary(normal=NORMALS[0], attribute="a"), Boundary(normal=NORMALS[2], attribute="c")]
    sefa = [Boundary(normal=v, attribute=f"sefa_{i}", kind="sefa", metrics={"eigenvalue": 3.0 - i})
            for i, v in enumerate([[0, 0, -1.0, 0], [0.6, 0.8, 0, 0], [0, 0, 0, 1.0]])]  # fmt: skip
    matches = match_directions(boundaries, sefa)
    assert [(m.attribute, m.index, m.sign) for m in matches] == [("a", 1, 1), ("c", 0, -1)]
    assert matches[0].cosine == pytest.approx(0.6) and matches[1].cosine == pytest.approx(1.0)
    assert np.allclose(matches[1].direction, [0, 0, 1, 0]) and matches[1].label == "-sefa_0"
    assert matches[1].value == 3.0
