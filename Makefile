# The two commands: `make demo` and `make test`. Everything else is a helper.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
KAFKA   = scripts/kafka-local
PYTEST_ARGS ?=

.PHONY: demo test venv kafka-start kafka-stop browser bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

## Run the demo scenario on the embedded SQLite log (no Kafka, no Java).
demo: venv
	$(VENV)/bin/dledger demo

## Start a real Kafka broker, run every test, stop the broker.
test: venv browser
	@set -e; \
	out=$$($(KAFKA) start) || { echo "scripts/kafka-local start failed" >&2; exit 1; }; \
	addr=$$(printf '%s\n' "$$out" | tail -n 1); \
	trap '$(KAFKA) stop' EXIT; \
	echo "Kafka broker at $$addr"; \
	DLEDGER_KAFKA_BOOTSTRAP=$$addr $(PY) -m pytest $(PYTEST_ARGS)

## Headless Chromium for the dashboard end-to-end test (Debian packages).
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else echo "chromium and chromium-driver are needed for the dashboard test (apt-get install chromium chromium-driver)"; fi; \
	fi

kafka-start:
	$(KAFKA) start

kafka-stop:
	$(KAFKA) stop

## Benchmarks against a real broker: figures and ratios against raw baselines.
bench: venv
	@set -e; \
	out=$$($(KAFKA) start) || { echo "scripts/kafka-local start failed" >&2; exit 1; }; \
	addr=$$(printf '%s\n' "$$out" | tail -n 1); \
	trap '$(KAFKA) stop' EXIT; \
	$(VENV)/bin/dledger bench publish --kafka $$addr

clean:
	rm -rf $(VENV) .dledger .pytest_cache .hypothesis
