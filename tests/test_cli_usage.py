"""Usage errors through the installed console script (one line, exit code 2) and the thread settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from interfacegan import threads
from interfacegan.errors import InterfaceGANError

SCRIPT = str(Path(sys.executable).parent / "interfacegan")

# (arguments, words the one-line message must contain): every kind of usage error typer/click can raise
USAGE_ERRORS = {
    "unknown option": (["sample", "--model", "toy", "--num", "10", "--out", "r", "--bogus"], "No such option: --bogus"),
    "missing required option": (["sample", "--num", "3", "--out", "r"], "Missing option '--model'"),
    "not an integer": (["sample", "--model", "toy", "--num", "abc", "--out", "r"], "'--num'"),
    "missing argument": (["score"], "Missing argument 'run'"),
    "unknown command": (["frobnicate"], "No such command 'frobnicate'"),
    "option without its value": (["sample", "--model", "toy", "--num", "5", "--out", "r", "--space"],
                                 "'--space' requires an argument. (see `interfacegan sample --help`)"),
    "option with too few values": (["edit", "r", "--range", "1"],
                                   "'--range' requires 2 arguments. (see `interfacegan edit --help`)"),
    "value out of range": (["--threads", "0", "info", "r"], "'--threads'"),
    "missing argument of a subcommand": (["analyze", "rescore"], "Missing argument 'run'"),
    "extra argument": (["info", "a", "b"], "unexpected extra argument"),
}


def _start(args: list[str], **env) -> subprocess.Popen:
    return subprocess.Popen([SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})  # fmt: skip


def test_every_usage_error_is_one_line_with_exit_code_2(tmp_path):
    """All kinds run at once (one process each, in parallel: the whole test takes about as long as one). Also run:
    the bare command, --help, and $INTERFACEGAN_THREADS reaching the script (logged with -v)."""
    procs = {kind: _start(args) for kind, (args, _) in USAGE_ERRORS.items()}
    bare, help_ = _start([]), _start(["sample", "--help"])
    verbose = _start(["-v", "info", str(tmp_path / "missing")], INTERFACEGAN_THREADS="1")
    for kind, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        expected = USAGE_ERRORS[kind][1]
        assert proc.returncode == 2, (kind, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), (kind, err)
        assert expected in err and "Traceback" not in err and "--help" in err, (kind, err)
        assert out == "", kind
    out, err = bare.communicate(timeout=60)  # no command: the help page, as click does (exit code 2)
    assert bare.returncode == 2 and "sample" in out and "Traceback" not in err + out
    out, err = help_.communicate(timeout=60)
    assert help_.returncode == 0 and "--num" in out and err == ""
    _, err = verbose.communicate(timeout=60)
    assert "using 1 thread(s)" in " ".join(err.split()) and verbose.returncode == 2


def test_thread_count_comes_from_the_argument_the_environment_or_the_cores(monkeypatch):
    monkeypatch.setattr(threads, "_configured", None)
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.thread_count() == threads.available_cores() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.thread_count() == 3
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    assert threads.thread_count() == 1 and threads.thread_count(5) == 5
    monkeypatch.setenv(threads.THREADS_ENV, "many")
    with pytest.raises(InterfaceGANError, match="INTERFACEGAN_THREADS='many' is not a whole number"):
        threads.thread_count()
    with pytest.raises(InterfaceGANError, match="threads must be >= 1, got 0"):
        threads.thread_count(0)


def _onnx_scorer(path: Path):
    import onnx
    from onnx import TensorProto, helper

    from interfacegan.scoring.onnx import OnnxScorer

    node = helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=0)
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 8, 8])
    mean = helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N"])
    graph = helper.make_graph([node], "mean", [images], [mean])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return OnnxScorer(path)


def test_threads_option_reaches_torch_onnxruntime_and_openmp(tmp_path, monkeypatch, toy_generator):
    """`--threads 1` (the CLI's global option) sets torch's count, the OpenMP/BLAS variables for libraries loaded
    later (dlib, numpy's BLAS) and the thread count of onnxruntime sessions; OpenMP threads sleep when idle."""
    from interfacegan.cli import main
    from interfacegan.sampling import sample_to_store

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(threads, "_configured", None)
    sample_to_store(toy_generator, tmp_path / "run", num=10, progress=False)
    torch.set_num_threads(2)
    monkeypatch.setattr(sys, "argv", ["interfacegan", "--threads", "1", "info", str(tmp_path / "run")])
    main()
    assert torch.get_num_threads() == 1
    assert os.environ["OMP_NUM_THREADS"] == os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    options = _onnx_scorer(tmp_path / "mean.onnx").session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_api_calls_cap_torch_at_the_cores_but_keep_a_smaller_choice(tmp_path, monkeypatch, toy_generator):
    from interfacegan.sampling import sample_to_store

    monkeypatch.setattr(threads, "_configured", None)
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    torch.set_num_threads(2)
    sample_to_store(toy_generator, tmp_path / "a", num=10, progress=False)  # more threads than allowed: capped
    assert torch.get_num_threads() == 1
    monkeypatch.setenv(threads.THREADS_ENV, "2")
    torch.set_num_threads(1)
    sample_to_store(toy_generator, tmp_path / "b", num=10, progress=False)  # fewer: the caller's choice stays
    assert torch.get_num_threads() == 1


def test_defaults_the_cli_shows_are_the_apis():
    """Options whose default lives in the API default to None on the command line and show the API's value in their
    help; every such option is listed here with the API parameter it stands for, and the two must agree."""
    import inspect

    import typer.main

    from interfacegan import DEFAULT_MODEL
    from interfacegan.analysis.run import QUICK, analyze_run
    from interfacegan.cli import app
    from interfacegan.demo import DemoSettings
    from interfacegan.directions.ganspace import GANSpace
    from interfacegan.directions.files import PLAIN_SPACE
    from interfacegan.directions.sefa import sefa_boundaries
    from interfacegan.editing.run import EditRequest, edit_rows, edit_run, save_direction_grid, save_edit
    from interfacegan.interop import import_official
    from interfacegan.inversion import ReconstructionLoss, invert, train_encoder
    from interfacegan.inversion.files import save_inversion
    from interfacegan.scoring.calibration import calibrate_run
    from interfacegan.translation import train_translator
    from interfacegan.translation.dni import save_translations
    from interfacegan.learning import BoundaryTrainer, train_boundaries
    from interfacegan.ui.build import DEFAULT_HOST, DEFAULT_PORT, build_editor_app
    from interfacegan.sampling import make_truncation, sample_to_store
    from interfacegan.scoring.run import score_store

    def defaults(func) -> dict:
        return {name: p.default for name, p in inspect.signature(func).parameters.items()}

    sample, score, analysis = defaults(sample_to_store), defaults(score_store), defaults(analyze_run)
    trainer, ui, request = defaults(BoundaryTrainer), defaults(build_editor_app), EditRequest(None)
    encoder, translator, inversion = defaults(train_encoder), defaults(train_translator), defaults(invert)
    inverting = {"lr": inversion["lr"], "init": inversion["init"], "candidates": inversion["num_candidates"],
                 "prior_weight": inversion["prior_weight"], "spread_weight": inversion["spread_weight"],
                 "pyramid": ReconstructionLoss().pyramid, "seed": inversion["seed"], "batch_size": inversion["batch_size"]}
    grid = {"steps": request.steps, "range_": f"{request.lo:g} {request.hi:g}"}  # a direction grid, as an edit
    figure = defaults(save_direction_grid)
    edit = {**grid, "mode": request.mode, "fps": defaults(save_edit)["fps"]}
    demo = DemoSettings()
    sheet_scale = defaults(save_inversion)["scale"]  # edit-image's edits are enlarged as its inversion sheets
    api = {
        "sample": {"seed": sample["seed"], "batch_size": sample["batch_size"], "chunk_rows": sample["chunk_rows"],
                   "truncation_psi": defaults(make_truncation)["psi"]},
        "score": {"batch_size": score["batch_size"], "prefix": score["prefix"] or "none"},
        "import-official": {"model": defaults(import_official)["model"]},
        "demo": {"num": demo.num, "seed": demo.seed, "ratio": demo.ratio},
        "train-boundary": {"space": defaults(train_boundaries)["spaces"][0],
                           **{name: trainer[key] for name, key in (("ratio", "ratio"), ("split", "split"),
                              ("seed", "seed"), ("c", "C"), ("solver", "solver"), ("max_iter", "max_iter"),
                              ("threshold", "threshold"))}},
        "edit": {**edit, "batch_size": defaults(edit_run)["batch_size"], "scale": defaults(save_edit)["scale"],
                 "num": defaults(edit_rows)["num"], "start": defaults(edit_rows)["start"]},
        "edit-image": {**edit, "invert_steps": inversion["steps"], **inverting, "scale": sheet_scale},
        "invert": {"steps": inversion["steps"], **inverting, "scale": sheet_scale},
        "translate": {"scale": defaults(save_translations)["scale"]},
        "name-directions": {"space": PLAIN_SPACE},
        "face calibrate": {"num": defaults(calibrate_run)["num"]},
        "sefa": {"k": defaults(sefa_boundaries)["k"], "seed": figure["seed"], "num": figure["rows"],
                 "scale": figure["scale"], **grid},
        "ganspace": {"seed": defaults(GANSpace)["seed"], "rows": figure["rows"], "scale": figure["scale"], **grid},
        "train-encoder": {"model": DEFAULT_MODEL, **{name: encoder[name] for name in (
            "steps", "batch_size", "lr", "width", "image_weight", "seed", "checkpoint_every")}},
        "train-translator": {name: translator[name] for name in (
            "alpha", "num", "keep", "identity_steps", "steps", "batch_size", "lr", "width", "seed", "checkpoint_every")},
        "ui": {"truncation_psi": defaults(make_truncation)["psi"], "invert_steps": ui["invert_steps"],
               "slider_range": ui["slider_range"], "host": DEFAULT_HOST, "port": DEFAULT_PORT},
        "analyze all": {"num": analysis["num_rescore"], "num_identity": analysis["num_identity"],
                        "num_distance": analysis["num_distance"], "alpha": analysis["alpha"],
                        "sweep": ",".join(f"{a:g}" for a in analysis["sweep"]), "sefa_k": analysis["sefa_k"],
                        "condition_threshold": analysis["condition_threshold"], "ratio": analysis["ratio"],
                        "batch_size": analysis["batch_size"], "ganspace_num": analysis["ganspace_num"],
                        "level_k": analysis["level_k"]},
    }  # fmt: skip
    group = typer.main.get_command(app)
    for path, expected in api.items():
        command = group
        for word in path.split():
            command = command.commands[word]
        shown = {p.name: p.show_default for p in command.params
                 if p.default is None and isinstance(p.show_default, str)}  # fmt: skip
        assert set(shown) == set(expected), path
        for name, value in expected.items():
            same = shown[name] == value if isinstance(value, str) else float(shown[name]) == value
            assert same, (path, name, shown[name], value)
    quick = group.commands["analyze"].commands["all"]
    quick_help = next(p.help for p in quick.params if p.name == "quick")
    assert f"{QUICK['num_rescore']} / {QUICK['num_identity']} / {QUICK['num_distance']} samples" in quick_help


def test_the_closing_hint_of_the_demo_says_how_to_run_the_command_again(monkeypatch, tmp_path):
    """After `make demo` (`.venv/bin/interfacegan demo`, venv not activated) the hint names that path."""
    from interfacegan.cli.demo import launcher

    script = tmp_path / ".venv" / "bin" / "interfacegan"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/interfacegan", "demo"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert launcher() == ".venv/bin/interfacegan"
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")  # venv activated: the bare name works
    assert launcher() == "interfacegan"


def test_option_help_lists_every_builtin_scorer_and_checkpoint_format():
    """`score --scorer` names every built-in scorer (gender and age were missing) and `sample --format` every
    checkpoint reader (biggan was missing), so --help agrees with what the commands accept."""
    import typer

    from interfacegan import scoring
    from interfacegan.cli import app
    from interfacegan.models.checkpoints import FORMATS

    commands = typer.main.get_command(app).commands
    helps = {(name, p.name): p.help for name, c in commands.items() for p in c.params}
    scorer_help = helps["score", "scorer"]
    assert all(re.search(rf"\b{name}\b", scorer_help) for name in [*scoring._BUILTIN, *scoring._PREFIXED]), scorer_help
    assert all(re.search(rf"\b{name}\b", helps["sample", "checkpoint_format"]) for name in FORMATS), helps["sample", "checkpoint_format"]


def test_library_messages_name_the_invoked_commands_options():
    """The API names parameters; the CLI prints them as the command's options, and leaves words and paths alone."""
    import typer

    from interfacegan.cli import app
    from interfacegan.cli.flags import invoked_command, with_option_names

    root = typer.main.get_command(app)
    sample = invoked_command(root, ["--threads", "1", "sample", "--model", "toy", "--num", "5"])
    assert sample.name == "sample"
    text = "batch_size must be positive; num must be <= 10; the num of rows; /tmp/batch_size/x; leave seed unset"
    assert with_option_names(text, sample) == (
        "--batch-size must be positive; --num must be <= 10; the num of rows; /tmp/batch_size/x; leave --seed unset")
    assert with_option_names("batch_size must be positive", root) == "batch_size must be positive"  # no command
