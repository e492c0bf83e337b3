# The two commands a user needs: `make test` and `make demo`. Both set up
# everything they need on a fresh Debian 12 machine (as root).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help test test-quick test-takeover test-scale test-n8n-releases docs demo demo-down bench clean-cache

help:
	@echo "make test        install what the tests need, start it, run every test tier (Molecule included)"
	@echo "make test-quick  the same without Molecule"
	@echo "make test-takeover  an existing n8n on Postgres attached, adopted and restored; the Linux host kinds; the ollama_host role (CI runs it after make test)"
	@echo "make test-scale  n8n in queue mode on Postgres with workers, LiteLLM replicas sharing Redis (CI runs it after make test-takeover)"
	@echo "make test-n8n-releases  the n8n module tests against n8n 1.123.81, the other n8n line the collection supports (CI runs it last)"
	@echo "make demo        deploy the stack on this machine (phase 1) with local images and the Ollama stand-in"
	@echo "make demo PHASE=2  the same in phase 2 (LiteLLM behind nginx); also LLM_GATEWAY_DEMO_PHASE=2"
	@echo "make demo-down   remove the demo"
	@echo "make bench       benchmarks; JSON results in bench/results/"
	@echo "make docs        the collection's docsite (antsibull-docs + Sphinx), offline, in /var/tmp/llm_gateway_test/run/docsite/build/html"

test:
	tests/harness/run.sh all

test-quick:
	tests/harness/run.sh quick

test-takeover:
	tests/harness/run.sh takeover

test-scale:
	tests/harness/run.sh scale

test-n8n-releases:
	tests/harness/run.sh n8n-releases

# PHASE=1|2 (or LLM_GATEWAY_DEMO_PHASE in the environment; 1 without either).
demo:
	$(if $(PHASE),LLM_GATEWAY_DEMO_PHASE=$(PHASE) )tests/harness/demo.sh up

demo-down:
	tests/harness/demo.sh down

bench:
	bench/run.sh

docs:
	tests/harness/run.sh docsite

clean-cache:
	rm -rf /var/cache/llm_gateway_test
