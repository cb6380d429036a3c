# The two commands of the README: `make run` (install, index the seeds, serve) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export NO_PROXY := 127.0.0.1,localhost

.PHONY: install run index test test-fast fuzz eval bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, the CPU build: otherwise sentence-transformers pulls a multi-gigabyte CUDA build.
	$(BIN)/pip install --disable-pip-version-check -c constraints.txt torch==2.13.0
	$(BIN)/pip install --disable-pip-version-check -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/citeqa refresh

run: index
	$(BIN)/citeqa serve

# The browser test drives Debian's Chromium (never a browser that Playwright downloads): install it when missing.
/usr/bin/chromium:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

test: install /usr/bin/chromium
	$(BIN)/python -m pytest -q

# While working: the units, the hashing embedder and in-process HTTP, in well under a minute (no model, no servers).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not model and not milvus_server"

# The long schemathesis run (about 3,000 generated requests; the suite runs a bounded one): no 5xx, nothing off the schema.
fuzz: install
	CITEQA_FUZZ_CASES=1000 $(BIN)/python -m pytest -q tests/test_reliability_fuzz.py

# The figures docs/benchmarks.md quotes (benchmarks/report.py --eval runs these): the reporting halves (split by article), never fitted on.
eval: install
	$(BIN)/citeqa eval --part reporting --questions ../shared/eval/dev.jsonl --retriever dense,bm25,rrf,hybrid
	$(BIN)/citeqa eval --part reporting --corpus ../shared/eval/xquad/corpus --questions ../shared/eval/xquad/dev.jsonl --retriever dense,bm25,rrf,hybrid
	# Unanswerable questions: written by hand, and near-topic ones made by swapping a name (benchmarks/swapped_names.py).
	$(BIN)/citeqa eval --part all --questions tests/data/unanswerable_seeds.jsonl
	$(BIN)/citeqa eval --part reporting --questions tests/data/swapped_unseen_seeds.jsonl
	$(BIN)/citeqa eval --part reporting --corpus ../shared/eval/xquad/corpus --questions tests/data/unanswerable_xquad.jsonl
	$(BIN)/citeqa eval --part reporting --corpus ../shared/eval/xquad/corpus --questions tests/data/swapped_unseen_xquad.jsonl
	$(BIN)/citeqa eval --part reporting --corpus ../shared/eval/xquad/corpus --questions tests/data/swapped_elsewhere_xquad.jsonl
	# Conversations (CoQA over CNN stories, shared/convqa): each asked over its own story as CoQA is, then searched openly.
	$(BIN)/citeqa eval --part reporting --corpus ../shared/convqa/coqa-cnn-dev/corpus --questions ../shared/convqa/coqa-cnn-dev/conversations.jsonl
	$(BIN)/citeqa eval --part reporting --search-openly --corpus ../shared/convqa/coqa-cnn-dev/corpus --questions ../shared/convqa/coqa-cnn-dev/conversations.jsonl

# Every performance figure next to its limit (benchmarks/run.py): writes benchmarks/results/ and the tables of docs/benchmarks.md, about 7 minutes.
bench: install
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e ".[bench]"
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .citeqa
