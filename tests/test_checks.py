"""Numbers are checked where they enter the API: NaN, inf, out-of-range values and bad seeds are one line naming
the parameter, for the functions and for every numeric option of the commands that call them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from interfacegan import checks
from interfacegan.directions import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from tests.helpers import cli_error

NAN, INF = float("nan"), float("inf")


def test_the_checks_return_clean_values_and_name_the_parameter():
    assert checks.finite("x", np.float32(2.5)) == 2.5 and checks.finite("x", np.array(3)) == 3.0
    assert checks.positive("lr", 1e-3) == 1e-3 and checks.non_negative("w", 0) == 0.0
    assert checks.in_range("keep", 1, 0, 1, low_open=True) == 1.0
    assert checks.integer("steps", 5.0) == 5 and checks.positive_int("n", np.int64(3)) == 3
    assert checks.seed(0) == 0 and checks.seed(checks.MAX_SEED) == 2**63 - 1
    np.random.default_rng(checks.MAX_SEED)  # numpy accepts the largest seed
    cases = [
        (lambda: checks.finite("alpha", NAN), "alpha must be a finite number, got nan"),
        (lambda: checks.finite("alpha", "3"), "alpha must be a number, got '3'"),
        (lambda: checks.finite("alpha", True), "alpha must be a number, got True"),
        (lambda: checks.positive("lr", 0.0), "lr must be positive, got 0"),
        (lambda: checks.positive("lr", -INF), "lr must be a finite number, got -inf"),
        (lambda: checks.non_negative("image_weight", -1), "image_weight must be >= 0, got -1"),
        (lambda: checks.in_range("ratio", 0.0, 0, 0.5, low_open=True), r"ratio must be in \(0, 0.5\], got 0"),
        (lambda: checks.in_range("split", 1.0, 0, 1, high_open=True), r"split must be in \[0, 1\), got 1"),
        (lambda: checks.integer("steps", 2.5), "steps must be a whole number, got 2.5"),
        (lambda: checks.integer("steps", NAN), "steps must be a whole number, got nan"),
        (lambda: checks.positive_int("batch_size", 0), "batch_size must be positive, got 0"),
        (lambda: checks.integer("count", 1, low=2), "count must be >= 2, got 1"),
        (lambda: checks.seed(-1), r"seed must be a whole number from 0 to 2\*\*63 - 1, got -1"),
        (lambda: checks.seed(2**63), "seed must be a whole number from 0"),
        (lambda: checks.finite_array("codes", [[0.0, NAN], [INF, 1.0]]), "codes must be finite: 2 of 4 values"),
        (lambda: checks.finite_array("codes", np.array(["a"])), "codes must hold numbers"),
        (lambda: checks.finite_array("alphas", [1.0, 1e300], dtype=np.float32),  # was inf, with a RuntimeWarning
         r"alphas must be within \+-3.4e\+38 \(float32\): 1 of 2 values are beyond it"),
    ]
    for call, message in cases:
        with pytest.raises(InterfaceGANError, match=message):
            call()


def test_library_functions_refuse_non_finite_inputs(toy_generator):
    """One probe per entry point of the editing, learning, inversion and translation APIs."""
    from interfacegan.analysis.settings import AnalysisSettings
    from interfacegan.editing.manipulation import edit_offset, edit_to_distance, linspace_steps
    from interfacegan.editing.plan import plan_edit
    from interfacegan.editing.stream import edit_images
    from interfacegan.inversion import ReconstructionLoss, invert, train_encoder
    from interfacegan.learning import BoundaryTrainer, select_samples
    from interfacegan.rescoring.naming import name_directions
    from interfacegan.translation import fit, make_pairs, new_network
    from interfacegan.translation.network import NetworkConfig

    z = toy_generator.sample(4, seed=0)
    n = toy_generator.true_normal(0)
    plan = plan_edit(toy_generator, Boundary(n, model="toy"))
    images = toy_generator.synthesize(z)
    scores = z @ n
    cases = [
        (lambda: Boundary(n, intercept=NAN), "has intercept nan, not a finite number"),
        (lambda: Boundary(n, intercept=np.ones(2)), "not a finite number"),
        (lambda: Boundary(np.full(16, NAN)), "zero or non-finite normal"),
        (lambda: edit_offset(z, n, [0.0, NAN]), "alphas must be finite"),
        (lambda: edit_images(plan, z, [0.0, 1e308]), r"edit values must be within \+-3.4e\+38"),  # not inf
        (lambda: edit_to_distance(z, n, 0.0, [INF]), "distances must be finite"),
        (lambda: edit_to_distance(z, n, NAN, [1.0]), "intercept must be a finite number"),
        (lambda: linspace_steps(-INF, 3, 5), "the edit range must be finite"),
        (lambda: linspace_steps(-3, 3, 2.5), "steps must be a whole number"),
        (lambda: edit_images(plan, np.where(np.arange(16) == 3, NAN, z), [0.0, 1.0]), "codes must be finite"),
        (lambda: edit_images(plan, z, [0.0, 1.0], batch_size=0), "batch_size must be positive"),
        (lambda: select_samples(scores, threshold=NAN), "threshold must be a finite number"),
        (lambda: select_samples(scores, ratio=NAN), "ratio must be a finite number"),
        (lambda: select_samples(scores, count=None, ratio=None), "give ratio"),
        (lambda: select_samples(scores, split=INF), "split must be a finite number"),
        (lambda: select_samples(scores, seed=-1), "seed must be a whole number"),
        (lambda: AnalysisSettings(ratio=NAN).check(), "ratio must be a finite number"),  # even with boundaries given
        (lambda: linspace_steps(-3, 3, 10**23), r"steps must be in \[2, 1000\]"),
        (lambda: BoundaryTrainer(C=INF).fit(z, scores), "C must be a finite number"),
        (lambda: BoundaryTrainer(max_iter=0).fit(z, scores), "max_iter must be positive"),
        (lambda: name_directions(toy_generator, [plan.boundary], ["toy"], alpha=INF), "alpha must be a finite"),
        (lambda: name_directions(toy_generator, [plan.boundary], ["toy"], seed=-2), "seed must be a whole number"),
        (lambda: ReconstructionLoss(pyramid=NAN), "pyramid must be a finite number"),
        (lambda: invert(toy_generator, images, lr=NAN), "lr must be a finite number"),
        (lambda: invert(toy_generator, images, steps=-1), "steps must be >= 0"),
        (lambda: invert(toy_generator, images, prior_weight=INF), "prior_weight must be a finite number"),
        (lambda: invert(toy_generator, images, space="z", codes=np.full((4, 16), INF)), "codes must be finite"),
        (lambda: train_encoder(toy_generator, image_weight=NAN), "image_weight must be a finite number"),
        (lambda: train_encoder(toy_generator, lr=INF), "lr must be a finite number"),
        (lambda: train_encoder(toy_generator, width=5000), r"width must be in \[1, 4096\]"),
        (lambda: train_encoder(toy_generator, seed=-1), "seed must be a whole number"),
        (lambda: make_pairs(toy_generator, n, alpha=NAN), "alpha must be a finite number"),
        (lambda: make_pairs(toy_generator, n, keep=NAN), "keep must be a finite number"),
        (lambda: fit(new_network(NetworkConfig(8, width=4)), images, images, lr=NAN), "lr must be a finite"),
    ]
    for call, message in cases:
        with pytest.raises(InterfaceGANError, match=message):
            call()


def test_diverging_training_stops_with_one_line(toy_generator):
    """A learning rate so large that the loss overflows is refused at the step it happens, before any file."""
    from interfacegan.inversion import train_encoder

    with pytest.raises(InterfaceGANError, match="training diverged at step .*: lower lr"):
        train_encoder(toy_generator, steps=20, batch_size=4, lr=1e30, width=4, hidden=8, max_width=8)


def test_translator_minibatch_seeds_stay_valid_for_every_seed(toy_generator):
    """(seed * stride + step) is taken mod 2**64, which torch accepts: the largest seed trains."""
    from interfacegan.translation import fit, new_network
    from interfacegan.translation.network import NetworkConfig

    images = toy_generator.synthesize(toy_generator.sample(4, seed=1))
    log = fit(new_network(NetworkConfig(8, width=4)), images, images, steps=2, seed=checks.MAX_SEED)
    assert len(log.losses) == 2 and all(math.isfinite(v) for v in log.losses)


# ---- every numeric option of the commands in this sweep -------------------------------------------------------------
def _probes(f: Path, out: Path, nan_codes: Path) -> list[tuple[list, str]]:
    """(arguments, the refusal) for every numeric option; `f` holds conftest's command_inputs, `nan_codes` codes of
    the toy model with one NaN."""
    run, b, face = f / "run", f / "b.npz", f / "face.png"
    tb = ["train-boundary", run, "--attribute", "attr0", "--out", out / "b.npz"]
    edit = ["edit", run, "--boundary", b, "--out", out]
    sefa = ["sefa", "--model", "toy", "-k", "2", "--out", out]
    names = ["name-directions", b, "--scorer", "toy"]
    inv = ["invert", face, "--model", "toy", "--out", out]
    enc = ["train-encoder", "--model", "toy", "--out", out / "enc.pt"]
    ei = ["edit-image", face, "--boundary", b, "--out", out]
    tt = ["train-translator", "--boundary", b, "--out", out / "tr.pt"]
    tr = ["translate", face, "--translator", f / "none.pt", "--out", out]
    ui = ["ui", "--model", "toy", "--port", "1"]
    return [
        ([*tb, "--ratio", "nan"], "ratio must be a finite number"),
        ([*tb, "--ratio", "0.6"], r"ratio must be in (0, 0.5], got 0.6"),
        ([*tb, "--count", "1"], "count must be >= 2, got 1"),
        ([*tb, "--split", "1"], "split must be in (0, 1), got 1"),
        ([*tb, "--C", "nan"], "C must be a finite number"),
        ([*tb, "--C", "0"], "C must be positive"),
        ([*tb, "--threshold", "inf"], "threshold must be a finite number"),
        ([*tb, "--max-iter", "0"], "--max-iter must be positive"),
        ([*tb, "--seed", "-1"], "seed must be a whole number from 0 to 2**63 - 1"),
        ([*edit, "--range", "nan", "3"], "the edit range must be finite"),
        ([*edit, "--range", "-3", "inf"], "the edit range must be finite"),
        ([*edit, "--steps", "0"], "steps must be in [2, 1000], got 0"),
        ([*edit, "--fps", "nan"], "fps must be a finite number"),
        ([*edit, "--fps", "-1"], "fps must be in (0, 1000]"),
        ([*edit, "--scale", "0"], "scale must be in [1, 64]"),
        ([*edit, "--batch-size", "0"], "--batch-size must be positive"),
        ([*sefa, "--seed", "-1"], "seed must be a whole number"),
        ([*sefa, "--num", "0"], "num must be positive"),
        ([*sefa, "--num", "100000000"], "num must be <= 1000, got 100000000"),  # was an out-of-memory kill
        ([*sefa, "--steps", "100000000"], "steps must be in [2, 1000]"),  # was a hang
        ([*edit, "--steps", "9" * 23], "steps must be in [2, 1000]"),  # was a numpy traceback
        ([*edit, "--num", "1001"], "--num must be in [1, 1000]"),
        ([*sefa, "--range", "-inf", "0"], "the edit range must be finite"),
        ([*sefa, "--scale", "-2"], "scale must be in [1, 64]"),
        ([*sefa, "-k", "0"], "k must be between 1 and the latent dimension"),
        ([*sefa, "--name-with", "toy", "--alpha", "nan"], "alpha must be a finite number"),
        ([*names, "--num", "1"], "num must be >= 2"),
        ([*names, "--alpha", "-1"], "alpha must be positive"),
        ([*names, "--seed", "-1"], "seed must be a whole number"),
        ([*inv, "--steps", "-1"], "steps must be >= 0"),
        ([*inv, "--steps", "9" * 23], "steps must be <= 100000"),  # was a numpy traceback
        ([*inv, "--lr", "nan"], "lr must be a finite number"),
        ([*inv, "--lr", "0"], "lr must be positive"),
        ([*inv, "--candidates", "0"], "num_candidates must be positive"),
        ([*inv, "--prior-weight", "-1"], "--prior-weight must be >= 0"),
        ([*inv, "--spread-weight", "nan"], "--spread-weight must be a finite number"),
        ([*inv, "--pyramid", "inf"], "pyramid must be a finite number"),
        ([*inv, "--seed", "-1"], "seed must be a whole number"),
        ([*inv, "--batch-size", "0"], "--batch-size must be positive"),
        ([*enc, "--image-weight", "nan"], "--image-weight must be a finite number"),
        ([*enc, "--lr", "nan"], "lr must be a finite number"),
        ([*enc, "--steps", "0"], "steps must be positive"),
        ([*enc, "--batch-size", "0"], "--batch-size must be positive"),
        ([*enc, "--width", "0"], "width must be in [1, 4096]"),
        ([*enc, "--seed", "-1"], "seed must be a whole number"),
        ([*enc, "--checkpoint-every", "0"], "--checkpoint-every must be positive"),
        ([*ei, "--invert-steps", "-1"], "steps must be >= 0"),
        ([*ei, "--lr", "inf"], "lr must be a finite number"),
        ([*ei, "--fps", "0"], "fps must be in (0, 1000]"),
        ([*ei, "--range", "nan", "1"], "the edit range must be finite"),
        (["edit-image", "--codes", nan_codes, "--boundary", b, "--out", out], "must be finite: 1 of 32"),
        ([*tt, "--alpha", "nan"], "alpha must be a finite number"),
        ([*tt, "--alpha", "0"], "alpha must be a non-zero edit amount"),
        ([*tt, "--keep", "nan"], "keep must be a finite number"),
        ([*tt, "--keep", "1.5"], "keep must be in (0, 1]"),
        ([*tt, "--num", "0"], "num must be positive"),
        ([*tt, "--lr", "nan"], "lr must be a finite number"),
        ([*tt, "--steps", "-1"], "steps must be >= 0"),
        ([*tt, "--identity-steps", "-1"], "--identity-steps must be >= 0"),
        ([*tt, "--batch-size", "0"], "--batch-size must be positive"),
        ([*tt, "--width", "0"], "width must be in [1, 4096]"),
        ([*tt, "--seed", "-1"], "seed must be a whole number"),
        ([*tr, "--strength", "nan"], "strength nan is outside [-1, 2]"),
        ([*tr, "--scale", "0"], "scale must be in [1, 64]"),
        (["face", "calibrate", run, "--num", "0"], "num must be positive"),
        (["face", "calibrate", run, "--face-box", "nan,0,1,1"], "must be 4 finite numbers"),
        ([*ui, "--slider-range", "nan"], "the slider range must be in (0, 100]"),
        ([*ui, "--truncation-psi", "nan"], "truncation psi must be in [0, 1]"),
        ([*ui, "--invert-steps", "-1"], "inversion steps must be >= 0"),
        ([*ui, "--sefa", "-1"], "sefa must be >= 0"),
    ]


PROBE_IDS = [f"{args[0]} {args[-2]} {args[-1]}" for args, _ in _probes(Path("."), Path("."), Path("."))]


@pytest.mark.parametrize("index", range(len(PROBE_IDS)), ids=PROBE_IDS)
def test_every_numeric_option_is_checked_with_one_line(index, command_inputs, tmp_path, monkeypatch, capsys):
    codes = ToyGenerator().sample(2, seed=1)
    codes[1, 3] = np.nan
    np.save(tmp_path / "nan_codes.npy", codes)
    args, message = _probes(command_inputs, tmp_path / "out", tmp_path / "nan_codes.npy")[index]
    err = cli_error(monkeypatch, capsys, *args)
    assert message in err, err
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_the_render_and_inversion_checkers_hold_no_defaults_of_their_own():
    """`check_render` and `check_inversion` check what they are given and pass the rest on as None: the defaults
    live once, in `save_edit` and `invert`, not repeated in the checkers."""
    from interfacegan.editing.render import check_render
    from interfacegan.inversion.optimize import check_inversion

    assert check_render() == (None, None)
    assert check_render(scale=3.0) == (None, 3) and check_render(fps=2) == (2.0, None)
    assert check_inversion() == (None,) * 7
    assert check_inversion(steps=5.0, seed=7) == (5, None, None, None, None, 7, None)
    with pytest.raises(InterfaceGANError, match="^num_candidates must be positive"):
        check_inversion(num_candidates=0)


def test_a_none_given_to_the_api_is_one_line_not_a_traceback(toy_generator, tmp_path):
    """A setting not given takes the API's default; None given explicitly is a bad value, refused in one line by
    the checker (not passed on as 'not given', where it would fail later with a TypeError)."""
    from interfacegan.editing.render import check_render
    from interfacegan.inversion import invert
    from interfacegan.inversion.optimize import check_inversion

    with pytest.raises(InterfaceGANError, match="^fps must be"):
        check_render(fps=None)
    with pytest.raises(InterfaceGANError, match="^steps must be"):
        check_inversion(steps=None)
    images = toy_generator.synthesize(np.zeros((1, toy_generator.z_dim), np.float32))
    with pytest.raises(InterfaceGANError, match="^lr must be"):
        invert(toy_generator, images, lr=None)
