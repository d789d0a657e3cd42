# Roster: `make run` starts it on embedded SQLite, `make test` runs every test (README.md).
SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_CONNECT_GO_VERSION := v1.19.1
GOOGLE_PROTO_FILES_VERSION := 6.0.1

.PHONY: run build test test-go test-node generate tools bench fmt vet tidy-check

build:
	go build -o roster ./cmd/roster

run: build
	./roster serve

# Every test, on both storage backends (PostgreSQL at ROSTER_TEST_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test). The Node SDK suite installs its npm packages itself.
test: tidy-check
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go test -count=1 -race ./...
	# Once more without the race detector, built with -tags rostercheck: with the tag the SQLite
	# user cache decodes every user it keeps right away and panics unless it comes back exactly
	# as it was read (store/store.go, store/sqlstore/usercodec.go). In ./api this run also holds
	# issue 12's round trip of 100k users on both backends (TestRoundTrip; 5,000 under -race).
	go test -count=1 -tags rostercheck ./store/sqlite ./directory ./oauth ./sso ./scim/... ./api

# go.mod and go.sum must be what `go mod tidy` makes (Go 1.23+ for -diff).
tidy-check:
	@if ! go mod tidy -diff >/dev/null 2>&1; then \
	  echo "go.mod or go.sum is not tidy: run 'go mod tidy' and commit the result. The difference:"; \
	  go mod tidy -diff; exit 1; fi

bench:
	go test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

# Regenerate gen/ from proto/. Tools come from the Go module proxy and npm, pinned above.
tools:
	GOBIN=$(TOOLS)/bin go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(TOOLS)/bin go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS)/bin go install connectrpc.com/connect/cmd/protoc-gen-connect-go@$(PROTOC_GEN_CONNECT_GO_VERSION)
	mkdir -p $(TOOLS)/npm $(TOOLS)/protodeps/google/api
	npm install --prefix $(TOOLS)/npm --no-audit --no-fund --silent google-proto-files@$(GOOGLE_PROTO_FILES_VERSION)
	cp $(TOOLS)/npm/node_modules/google-proto-files/google/api/{annotations,http}.proto $(TOOLS)/protodeps/google/api/

generate: tools
	rm -rf gen
	$(TOOLS)/bin/buf generate --path proto/scalekit --path proto/roster
