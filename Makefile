# Front door of the project. `make book` and `make test` create the environment when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= default
CH ?=
P ?=
DATA ?=
STAMP := $(VENV)/.tmv-installed

.PHONY: book chapter test browser refs data download bench env clean help predict

help:
	@echo "make book [PROFILE=default|ci|full|diversity] [DATA=dir]   run every chapter (papermill) and render the HTML"
	@echo "make chapter CH=01 [P=\"k=v ...\"]      rerun one chapter with overridden params"
	@echo "make predict IMAGES=\"a.png b.dcm\" [RUN=default]   trust cards (HTML, PNG, JSON) into artifacts/runs/RUN/predictions"
	@echo "make test                              unit tests, nbval regression of the ci notebooks, the ci book in headless chromium"
	@echo "make browser                           install Debian's chromium for the browser test when missing (apt-get)"
	@echo "make refs                              rerun the ci notebooks: nbval references (tests/notebooks) and numeric references (tests/references/ci)"
	@echo ".venv/bin/tmv compare RUN_A RUN_B      every value of two runs side by side (exit 0 identical, 1 not)"
	@echo "make download [DEST=downloads/nih14]    fetch the official NIH files (resumable, checksummed)"
	@echo "make data SOURCE=downloads/nih14       official files -> prepared 256-px data/ (what the book reads)"
	@echo "make bench                             training throughput and CAM cost vs peers (timm loop, pytorch-grad-cam, torch-cam)"
	@echo "make env                               create $(VENV) (pip install -e .[dev])"

env: $(STAMP)

# torch 2.14.1 / torchvision 0.29.1 are pinned in pyproject.toml (the releases served locally).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# DATA: the prepared data folder (nih14/, kermany/), passed as TMV_DATA
book: $(STAMP)
	$(if $(DATA),TMV_DATA=$(DATA)) $(PY) -m tmvlib.cli book --profile $(PROFILE)

chapter: $(STAMP)
	@test -n "$(CH)" || (echo "usage: make chapter CH=01 [PROFILE=default] [P=\"key=value ...\"]"; exit 2)
	$(if $(DATA),TMV_DATA=$(DATA)) $(PY) -m tmvlib.cli chapter $(CH) --profile $(PROFILE) $(foreach p,$(P),-p '$(p)')

# -ra (also in pyproject's addopts) lists skipped tests with their reason, e.g. no chromium.
test: $(STAMP) browser
	$(PY) -m pytest tests -q -ra --nbval-lax --nbval-current-env --durations=10

browser:
	@sh scripts/install_browser.sh

predict: $(STAMP)
	@test -n "$(IMAGES)" || (echo "usage: make predict IMAGES=\"path/to/a.png path/to/b.dcm\" [RUN=default] (run make book first)"; exit 2)
	$(PY) -m tmvlib.cli predict $(IMAGES) --run $(or $(RUN),default)

refs: $(STAMP)
	$(PY) -m tmvlib.cli refs

download: $(STAMP)
	$(PY) -m tmvlib.cli data download $(or $(DEST),downloads/nih14)

data: $(STAMP)
	@test -n "$(SOURCE)" || (echo "usage: make data SOURCE=<folder with the official NIH files> [OUT=data]"; exit 2)
	$(PY) -m tmvlib.cli data prepare nih14 $(SOURCE) $(or $(OUT),data)

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_cam.py --repeats 3 $(if $(wildcard artifacts/runs/default/checkpoints/baseline.pt),--checkpoint artifacts/runs/default/checkpoints/baseline.pt)
	$(if $(wildcard artifacts/runs/default/checkpoints/baseline.pt),$(PY) benchmarks/bench_stages.py --images 48,@echo "bench_stages: run chapter 02 first (it needs the baseline checkpoint)")

clean:
	rm -rf book/_build book/*.ipynb book/_static/tmv-vega.js
