# littlebig: `make book` builds the HTML book, `make test` runs the tests.
# Both create the virtual environment first (once; redone only when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# reference data: ../shared/data when it exists beside the clone, else whatever the user set
ifneq ($(wildcard ../shared/data/MANIFEST.md),)
export LITTLEBIG_DATA_DIR ?= $(abspath ../shared/data)
endif
export PYDEVD_DISABLE_FILE_VALIDATION := 1

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
EXECUTED  := $(patsubst notebooks/%.ipynb,book/generated/%.ipynb,$(NOTEBOOKS))
PACKAGE   := $(wildcard littlebig_utils/*.py littlebig_utils/*/*.py littlebig_utils/*/*/*.py) pyproject.toml
# extra papermill arguments, e.g. make book PAPERMILL_ARGS="-p smoke True"
PAPERMILL_ARGS ?=
TEST_WORKERS ?= 2
MUTATION_WORKERS ?= 2
# mutants run by `make mutation` (mutmut name patterns): every module of the core
MUTANTS ?= 'littlebig_utils.core.*'
# `make mutation-sample`: mutants drawn uniformly from littlebig_utils/core, and the seed
SAMPLE ?= 400
SAMPLE_SEED ?= 0
PYTEST_ARGS ?=

# MathJax is served from the book itself (no CDN): the npm package, fetched once at build time
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_extra/mathjax/tex-mml-chtml.js
# the browser check in the tests drives Debian's chromium
CHROMIUM ?= $(shell command -v chromium 2>/dev/null || echo /usr/bin/chromium)

.PHONY: all install test book lab notebooks clean clean-book help browser mutation mutation-sample titans
.DELETE_ON_ERROR:

all: test

help:
	@echo "make book   - install, execute every notebook (cached), build book/_build/html"
	@echo "make test   - install, run the test suite"
	@echo "make titans - train the Titans chapter's students (cached, resumable; a GPU if there is one)"
	@echo "make lab    - JupyterLab on notebooks/ with the project's environment"
	@echo "make mutation - mutation testing of the cascade core (mutmut; long: hours on 2 cores)"
	@echo "make mutation-sample - core mutation score on SAMPLE=400 mutants drawn with SAMPLE_SEED=0 (< 1 h)"
	@echo "make clean  - remove executed notebooks and the built book"

$(STAMP): pyproject.toml
	@echo ">> creating $(VENV) and installing littlebig with its dependencies (first time: a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[book,dev]'
	@touch $@

install: $(STAMP)

$(MATHJAX):
	@echo ">> fetching MathJax $(MATHJAX_VERSION) from the npm registry (served locally by the book)"
	@command -v npm >/dev/null || { echo "npm is needed once to fetch MathJax (apt-get install npm)"; exit 1; }
	@mkdir -p .cache/npm book/_extra
	cd .cache/npm && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	rm -rf book/_extra/mathjax.tmp && mkdir -p book/_extra/mathjax.tmp
	tar xzf .cache/npm/mathjax-$(MATHJAX_VERSION).tgz -C book/_extra/mathjax.tmp --strip-components=2 package/es5
	rm -rf book/_extra/mathjax && mv book/_extra/mathjax.tmp book/_extra/mathjax

# headless Chromium for the browser check (Debian package; needs root or sudo once)
browser:
	@test -x "$(CHROMIUM)" || { echo ">> installing Debian's chromium for the browser check"; \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) $(MATHJAX) browser
	@echo ">> the layer rule (import-linter: core <- data <- run <- book, no import circles)"
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# every mutant of littlebig_utils/core ([tool.mutmut] in pyproject.toml, MUTANTS above)
# against the core's unit tests (tests/mutation_scope.py), property tests at 20 derandomized
# examples (HYPOTHESIS_PROFILE=mutation). Results stay in mutants/, but mutmut reruns every
# mutant named by a pattern: rerun survivors by name (`mutmut run NAME ...`, CONTRIBUTING.md)
mutation: $(STAMP)
	HYPOTHESIS_PROFILE=mutation $(BIN)/mutmut run --max-children $(MUTATION_WORKERS) $(MUTANTS)
	$(BIN)/mutmut results --all true | $(BIN)/python .ci/mutation_scores.py

# the score on a seeded uniform sample of the core's mutants (fresh mutants/ each time), and its
# survivors; tests/MUTATION.md defines the score, `.ci/mutation_sample.py note` writes its table
mutation-sample: $(STAMP)
	HYPOTHESIS_PROFILE=mutation $(BIN)/python .ci/mutation_sample.py run --sample $(SAMPLE) \
	  --seed $(SAMPLE_SEED) --workers $(MUTATION_WORKERS)

# one executed notebook per source notebook; re-run only when the notebook or the package changed
book/generated/%.ipynb: notebooks/%.ipynb $(PACKAGE) $(STAMP)
	@mkdir -p book/generated
	@echo ">> executing $<"
	$(BIN)/python -m littlebig_utils.book.notebook --cwd notebooks --log-level WARNING $(PAPERMILL_ARGS) $< $@.tmp.ipynb
	@mv $@.tmp.ipynb $@

# The Titans chapter's students (littlebig_utils/run/distill.py, the book's settings): teacher
# logits, one student per objective and seed, and their test predictions, each computed only when
# not cached under results/titans/ (a killed run resumes from its last epoch), with progress bars,
# on a GPU when there is one. A smoke build (PAPERMILL_ARGS="-p smoke True") skips it: the chapter
# then trains its tiny students itself.
titans: $(STAMP)
	$(if $(findstring smoke,$(PAPERMILL_ARGS)),@echo ">> smoke build: no Titans stage",\
	  @echo ">> the Titans stage (students cached in results/titans/)"; \
	  $(BIN)/python -m littlebig_utils.run.distill)

# the chapter runs after the stage (order-only: a finished stage does not re-execute the chapter)
book/generated/titans_distillation.ipynb: | titans

# the limits chapter reads the Titans chapter's results (results/titans_distillation/students.csv)
book/generated/limits_open_questions.ipynb: book/generated/titans_distillation.ipynb

notebooks: $(EXECUTED)

book: $(EXECUTED) $(MATHJAX)
	@echo ">> building the book (warnings are errors)"
	$(BIN)/jupyter-book build -W -n --keep-going book
	@echo ">> open book/_build/html/index.html"

lab: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter lab

clean-book:
	rm -rf book/_build

clean: clean-book
	rm -rf book/generated mutants
