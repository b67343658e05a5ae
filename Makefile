# Deskwoot developer commands.
#   make run                    start Deskwoot (ARGS go to `deskwoot serve`)
#   make test                   ruff + pytest on SQLite and PostgreSQL, in parallel
#   make check                  quick loop: ruff + pytest on SQLite, no browser/Node/slow tests
#   make test ARGS="-k tickets" ARGS go to pytest; DESKWOOT_TEST_DB=sqlite|postgresql runs one
#   make lint / make fmt        ruff check + format check / apply fixes and formatting
#   make bench                  the performance benchmark (ARGS go to bench/run.sh)
#   make bench-quick            the same on the small dataset, 2 s per scenario
#   make stress                 load + kill -9 on SQLite and PostgreSQL (ARGS go to stress/run.sh)
#   make clean                  remove .venv and test-artifacts
VENV  := .venv
ARGS  ?=

.PHONY: run test check lint fmt clean bench bench-quick stress

run:
	bash scripts/serve.sh $(ARGS)

test:
	bash scripts/test.sh $(ARGS)

check:
	bash scripts/check.sh $(ARGS)

bench:
	bash bench/run.sh $(ARGS)

bench-quick:
	bash bench/run.sh --quick $(ARGS)

stress:
	bash stress/run.sh $(ARGS)

lint:
	bash scripts/venv.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt:
	bash scripts/venv.sh
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) test-artifacts
