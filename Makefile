# undistro — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/undistro
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED ?= 0
GOBIN := $(shell $(GO) env GOPATH)/bin
COSIGN_VERSION := v2.6.5
ACTIONLINT_VERSION := v1.7.12
DISTRO_DIR ?= $(CURDIR)/out/distro
DISTRO_BASE ?= HEAD~1
DEMO_DIR ?= $(CURDIR)/out/demo
DEMO_ADDR ?= 127.0.0.1:5055

# Debian packages the tests and the demo drive for real, by the tool each provides.
DEB_TOOLS := bwrap:bubblewrap skopeo:skopeo umoci:umoci docker-registry:docker-registry \
	s6-svscan:s6 dpkg-source:dpkg-dev git:git xz:xz-utils pigz:pigz busybox:busybox-static \
	apt-get:apt curl:curl python3:python3 bzip2:bzip2 tar:tar bash:bash \
	gcc:gcc make:make rsync:rsync aria2c:aria2

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: deps
deps: actionlint ## install missing Debian tools (apt-get only when one is missing), the cosign CLI and actionlint
	@missing=""; for t in $(DEB_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@if ! $(GOBIN)/cosign version 2>/dev/null | grep -q '$(COSIGN_VERSION:v%=%)'; then \
		echo "installing cosign $(COSIGN_VERSION)"; \
		$(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION); \
	fi

.PHONY: actionlint
actionlint: ## install actionlint $(ACTIONLINT_VERSION) in GOPATH/bin when missing
	@if ! $(GOBIN)/actionlint -version 2>/dev/null | grep -qx '$(ACTIONLINT_VERSION)'; then \
		echo "installing actionlint $(ACTIONLINT_VERSION)"; \
		$(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION); \
	fi

.PHONY: build
build: ## build bin/undistro (static, reproducible)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/undistro

.PHONY: test
test: deps ## run every test with the race detector (end-to-end included); with CI set, a skip (but -short) fails
	set -o pipefail; PATH="$(GOBIN):$$PATH" CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 25m -skip '^TestConformance$$' -json ./... | $(GO) run ./ci/internal/testreport
	@# The OCI distribution-spec conformance suite against undistro serve, verbose
	@# so its counts per workflow are in the output (the registry's log only on failure).
	@mkdir -p out && echo "CGO_ENABLED=1 $(GO) test -race -count=1 -v -run '^TestConformance$$' ./cmd/undistro"; \
	if CGO_ENABLED=1 $(GO) test -race -count=1 -v -run '^TestConformance$$' ./cmd/undistro >out/conformance.log 2>&1; \
	then grep -E 'conformance_test.go|^(--- |ok )' out/conformance.log; \
	else cat out/conformance.log; exit 1; fi

.PHONY: test-short
test-short: ## unit tests only (skips end-to-end)
	CGO_ENABLED=1 $(GO) test -race -short ./...

.PHONY: lint
lint: actionlint ## gofmt + no slog.Default() + go vet + tidy check + actionlint of the workflows
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@out=$$(git grep -n 'slog\.Default()' -- '*.go' ':!*_test.go'); if [ -n "$$out" ]; then echo "log through logctx.From(ctx), not slog.Default() (CONVENTIONS: the logger comes from the context):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(GOBIN)/actionlint

.PHONY: demo
demo: deps build ## build base and web, serve a registry, push, sign, verify, print digests
	@bash .ci/demo.sh "$(CURDIR)/$(BIN)" "$(DEMO_DIR)" "$(DEMO_ADDR)"

.PHONY: distro
distro: deps build ## the distro pipeline locally: plan DISTRO_BASE..HEAD, build, push and sign to undistro serve, move main
	@bash .ci/distro.sh "$(CURDIR)/$(BIN)" "$(DISTRO_DIR)" "$(DISTRO_BASE)"

.PHONY: bench
bench: deps build ## measure no-op rebuild, layer throughput vs tar|gzip, image size, registry push/pull vs docker-registry, switch, idle RSS vs s6
	@bash .ci/bench.sh "$(CURDIR)/$(BIN)"

.PHONY: bench-fleet
bench-fleet: deps build ## fleet of 25 node daemons: gossip bytes/node/s idle and in a rollout, daemon RSS, rollout vs a node switch loop
	@bash .ci/bench_fleet.sh "$(CURDIR)/$(BIN)"

.PHONY: clean
clean: ## remove build outputs
	rm -rf bin out
