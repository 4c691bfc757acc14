# tiersync — `make test` is what CI runs (.ci/run); `make demo` tries it locally.
GO      ?= go
BIN     := bin/tiersync
DEVBIN  := bin/tiersync-dev
GOFLAGS ?=

.PHONY: build test fmt-check vet fuzz demo bench clean

# Each fuzz target explores for FUZZTIME; new failing inputs are kept in the package's
# testdata/fuzz and replayed by every `go test` after. A target is package:Name, as
# `go test -fuzz` takes one package at a time. The budget is a count of inputs, not a
# duration: Go 1.26's coordinator can fail a target with a bare "context deadline exceeded"
# when a duration runs out mid-input (golang/go#75804, fixed in 1.27); a count never races.
FUZZTIME ?= 10000x
FUZZ_TARGETS := internal/crm/commerce7:FuzzCommerce7Order internal/crm/shopify:FuzzShopifyOrder \
	internal/crm/shopify:FuzzDecimalCents internal/api:FuzzCronForm internal/api:FuzzEnrollmentBody \
	internal/api:FuzzJSONText internal/api:FuzzCRMID internal/crm/commerce7:FuzzCommerce7Membership \
	internal/crm/shopify:FuzzShopifyPrivacy

# bin/tiersync is what runs in production; bin/tiersync-dev holds the demo, the benches and
# the CRM fakes (and the private-cluster launcher), which production never links.
build:
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/tiersync
	$(GO) build $(GOFLAGS) -o $(DEVBIN) ./cmd/tiersync-dev

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Uses DATABASE_URL when set; otherwise the tests start one private PostgreSQL cluster
# from the system's binaries and share it between packages.
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

# The queue, e2e and expire benches (and River's, beside them, when DATABASE_URL names a
# server); rewrites the "Latest make bench" section of docs/benchmarks.md.
bench: build
	scripts/bench.sh

demo: build
	./$(DEVBIN) demo $(DEMO_FLAGS)

clean:
	rm -rf bin
