# The template's own tasks. `make demo` and `make test` are the README's quick start.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS ?= never

# uv: on PATH; else the one pip installed for $(PYTHON) (its scripts folder is often not on PATH,
# e.g. a pyenv interpreter not yet rehashed); else a pinned copy for this template alone, which
# `make install` puts in build/uv. UV_VERSION is the uv that uv.lock holds.
PYTHON ?= python3
UV_VERSION := 0.13.9
LOCAL_UV := $(CURDIR)/build/uv/bin/uv
UV ?= $(or $(shell command -v uv 2>/dev/null || \
	$(PYTHON) -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null || \
	{ [ -x "$(LOCAL_UV)" ] && echo "$(LOCAL_UV)"; }),$(LOCAL_UV))
# Exported: the baked demo project's Makefile takes the same uv.
export UV
RUN := $(UV) run --locked

DEMO_DIR ?= $(CURDIR)/build/demo
DEMO_PROJECT := $(DEMO_DIR)/credit-default-model
DEMO_REMOTE := $(DEMO_DIR)/dvc-remote
MLFLOW_PORT ?= 5000
GIT_DEMO := git -c user.name="Demo" -c user.email="demo@localhost"
# The demo's MLflow server runs MLflow's basic-auth app, as the generated README sets teams up;
# its admin (a local demo's, on loopback) creates the workflows' users and grants.
DEMO_MLFLOW_ADMIN_PASSWORD ?= demo-admin-password
demo: export DEMO_MLFLOW_ADMIN_PASSWORD := $(DEMO_MLFLOW_ADMIN_PASSWORD)
demo: export MLFLOW_AUTH_ADMIN_PASSWORD := $(DEMO_MLFLOW_ADMIN_PASSWORD)

.PHONY: help
help: ## List the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

.PHONY: install
install: $(filter $(LOCAL_UV),$(UV)) ## Install the template's dev tools from uv.lock
	$(UV) sync --locked

$(LOCAL_UV):
	@echo "uv not found (PATH, $(PYTHON)'s scripts): installing uv $(UV_VERSION) for this template alone in build/uv"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target "$(CURDIR)/build/uv" "uv==$(UV_VERSION)"

.PHONY: demo
demo: install ## Bake the default project and run its whole model lifecycle through its workflows
	rm -rf "$(DEMO_DIR)" && mkdir -p "$(DEMO_DIR)"
	$(RUN) cookiecutter --no-input --output-dir "$(DEMO_DIR)" .
	@echo "Baked: $(DEMO_PROJECT)"
	$(MAKE) -C "$(DEMO_PROJECT)" setup DVC_REMOTE="$(DEMO_REMOTE)"
	cd "$(DEMO_PROJECT)" && git add -A && $(GIT_DEMO) commit --quiet -m "Start from the template"
	printf '[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///%s\nadmin_username = admin\nauth_cache_ttl_seconds = 600\n' \
		"$(DEMO_DIR)/mlflow-users.db" > "$(DEMO_DIR)/mlflow-auth.ini"
	# The MLflow server starts (~30 s) while the jobs' uv cache gets its bytecode (~30 s): two cores.
	$(RUN) python demo/act_runner.py "$(DEMO_PROJECT)" "$(DEMO_DIR)/lifecycle-work" & warming=$$!; \
	MLFLOW_AUTH_CONFIG_PATH="$(DEMO_DIR)/mlflow-auth.ini" \
		MLFLOW_FLASK_SERVER_SECRET_KEY="$$(openssl rand -hex 16 2>/dev/null || echo $$RANDOM$$RANDOM$$RANDOM)" \
		$(MAKE) -C "$(DEMO_PROJECT)" mlflow-stop mlflow-server MLFLOW_PORT=$(MLFLOW_PORT) MLFLOW_SERVER_APP=basic-auth; \
	started=$$?; wait $$warming && [ $$started -eq 0 ]
	$(RUN) python demo/lifecycle.py "$(DEMO_PROJECT)" --mlflow-uri "http://127.0.0.1:$(MLFLOW_PORT)" \
		--dvc-remote "$(DEMO_REMOTE)" --record "$(DEMO_DIR)/lifecycle.json"
	@echo
	@echo "Project:   $(DEMO_PROJECT) (git log --graph shows the pull requests and merges)"
	@echo "MLflow UI: http://127.0.0.1:$(MLFLOW_PORT) (user admin, password $$DEMO_MLFLOW_ADMIN_PASSWORD; stop it with: make -C $(DEMO_PROJECT) mlflow-stop)"
	@echo "Steps:     $(DEMO_DIR)/lifecycle-work/steps/ (each step's act log and uploaded reports)"

.PHONY: test
test: install ## Run the template's whole test suite
	$(RUN) pytest

ROWS ?= 12000
REPEAT ?= 3
LOG_ROWS ?= 10000000
ENGINE ?= pandas

.PHONY: bench
bench: install ## Time each step of a default bake with ROWS rows beside its bare limit (build/bench); LOG_ROWS: make outcomes' inference log (0: none); ENGINE=dask: the train stage on each engine
	$(RUN) python tests/benchmark.py --rows $(ROWS) --repeat $(REPEAT) --log-rows $(LOG_ROWS) \
		--engine $(ENGINE) --folder "$(CURDIR)/build/bench"

.PHONY: lint
lint: install ## ruff on the template's own code and demo (the generated project is linted after baking, by the tests)
	$(RUN) ruff check hooks tests demo
	$(RUN) ruff format --check hooks tests demo

.PHONY: sample-data
sample-data: install ## Regenerate the shipped sample data set (deterministic)
	$(RUN) python demo/sample_data.py "{{cookiecutter.project_slug}}/data/raw/loans.csv"

.PHONY: relock
relock: install ## Re-resolve the generated project's uv.lock (bakes, locks, puts the lock back)
	rm -rf build/relock && $(RUN) cookiecutter --no-input --output-dir build/relock .
	cd build/relock/credit-default-model && $(UV) lock
	sed 's/credit-default-model/{{ cookiecutter.project_slug }}/g' \
		build/relock/credit-default-model/uv.lock > "{{cookiecutter.project_slug}}/uv.lock"

.PHONY: clean
clean: ## Remove the demo and other build output
	rm -rf build
