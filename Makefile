# opdomain: the common targets. Tools are pinned and installed into ./bin.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
# kube-api-linter has no releases: a pseudo-version of its golangci-lint build.
KUBE_API_LINTER_VERSION ?= v0.0.0-20260716143926-092fe0c72997
KUBE_API_LINTER ?= $(LOCALBIN)/golangci-lint-kube-api-linter
HELM_VERSION ?= v4.3.1
HELM ?= $(LOCALBIN)/helm
GO_TEST_FLAGS ?=
BENCH_FLAGS ?= -benchtime=5x -count=3 -timeout=30m
# The release's version is the chart's appVersion; the image is tagged with it.
VERSION ?= $(shell sed -n 's/^appVersion: "\(.*\)"$$/\1/p' charts/opdomain/Chart.yaml)
IMG ?= opdomain/manager:$(VERSION)

.PHONY: all
all: generate manifests fmt vet build

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and the webhook configuration; copy them into the chart.
	$(CONTROLLER_GEN) rbac:roleName=manager crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	mkdir -p charts/opdomain/files/crds
	cp config/crd/bases/*.yaml charts/opdomain/files/crds/
	cp config/audit/policy.yaml charts/opdomain/files/audit-policy.yaml
	cp config/prometheus/rules.yaml charts/opdomain/files/prometheus-rules.yaml
	cp config/grafana/dashboard.json charts/opdomain/files/grafana-dashboard.json
	{ echo '# Argo CD health of every opdomain.io kind: merge into argocd-cm (Argo CD 2.6 or later, for'; \
	  echo '# the group wildcard). Generated from config/argocd/health.lua by `make manifests`.'; \
	  echo 'apiVersion: v1'; echo 'kind: ConfigMap'; echo 'metadata:'; echo '  name: argocd-cm'; echo '  namespace: argocd'; \
	  echo 'data:'; echo '  resource.customizations: |'; echo '    opdomain.io/*:'; echo '      health.lua: |'; \
	  sed -e 's/^./        &/' config/argocd/health.lua; } > config/argocd/argocd-cm.yaml
	sed 's/^  name: manager$$/  name: {{ .Release.Name }}-manager/' config/rbac/role.yaml > charts/opdomain/templates/clusterrole.yaml
	{ echo '{{- if .Values.records.enabled }}'; \
	  $(CONTROLLER_GEN) rbac:roleName=recorder paths="./controllers/records/..." output:rbac:stdout | sed 's/^  name: recorder$$/  name: {{ .Release.Name }}-recorder/'; \
	  echo '{{- end }}'; } > charts/opdomain/templates/recorder-clusterrole.yaml
	sed 's/^  name: reviewer$$/  name: {{ .Release.Name }}-reviewer/' config/rbac/reviewer_role.yaml > charts/opdomain/templates/reviewer-clusterrole.yaml
	sed 's/^  name: metrics-reader$$/  name: {{ .Release.Name }}-metrics-reader/' config/rbac/metrics_reader_role.yaml > charts/opdomain/templates/metrics-reader-clusterrole.yaml
	{ echo '{{- if .Values.dns.resolver.enabled }}'; \
	  sed -e 's,^        image: .*$$,        image: {{ .Values.dns.resolver.image }},' \
	      -e 's,^        args: \[-conf.*$$,&\n        {{- with .Values.dns.resolver.env }}\n        env:\n        {{- toYaml . | nindent 8 }}\n        {{- end }},' \
	      config/dns/resolver.yaml; \
	  echo '{{- end }}'; } > charts/opdomain/templates/resolver.yaml
	sed -e 's/^  name: validating-webhook-configuration$$/  name: {{ .Release.Name }}-validating-webhook-configuration/' \
	    -e 's/^      name: webhook-service$$/      name: {{ .Release.Name }}-webhook-service/' \
	    -e 's/^      namespace: system$$/      namespace: {{ .Release.Namespace }}/' \
	    -e 's/^metadata:$$/metadata:\n  {{- include "opdomain.webhookAnnotations" . | nindent 2 }}/' \
	    config/webhook/manifests.yaml > charts/opdomain/templates/webhook-configuration.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy functions.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) $(KUBE_API_LINTER) ## golangci-lint, and kube-api-linter on the API types (.golangci-kal.yml).
	$(GOLANGCI_LINT) run ./...
	$(KUBE_API_LINTER) run --config .golangci-kal.yml ./api/...

.PHONY: verify
verify: generate manifests ## Regenerate and fail if generated files or go.mod drifted.
	go mod tidy
	git diff --exit-code -- api config charts go.mod go.sum

.PHONY: control-plane
control-plane: ## Build (or reuse) kube-apiserver, kube-controller-manager and etcd.
	hack/setup-control-plane.sh

.PHONY: node
node: ## Install (as root) containerd, runc, CNI plugins; build (or reuse) kubelet, kube-scheduler, kube-proxy.
	hack/setup-node.sh

# The packages that run a real node, one after the other: there is one node per machine.
NODE_PACKAGES := ./test/node ./test/e2e

.PHONY: test
test: generate manifests vet $(HELM) ## Run every test against a real control plane and object store (screenshots into bin/artifacts), the real node's, then a one-minute soak.
	OPDOMAIN_SOAK= OPDOMAIN_HELM=$(HELM) KUBEBUILDER_ASSETS="$$(hack/setup-control-plane.sh)" \
	  OPDOMAIN_CHROMIUM="$$(hack/setup-browser.sh)" OPDOMAIN_ARTIFACTS=$(CURDIR)/bin/artifacts \
	  OPDOMAIN_VERSITYGW="$$(hack/setup-objectstore.sh)" \
	  go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v -e '/test/node$$' -e '/test/e2e$$')
	KUBEBUILDER_ASSETS="$$(hack/setup-control-plane.sh)" OPDOMAIN_NODE_BIN="$$(hack/setup-node.sh)" \
	  go test -p 1 $(GO_TEST_FLAGS) $(NODE_PACKAGES)
	$(MAKE) soak SOAK=1m SOAK_TIMEOUT=10m

# Executions, not a duration: a duration can run out before the fuzzer has measured its seed
# corpus on a loaded machine, and it then fails with "context deadline exceeded".
FUZZTIME ?= 5000x
# package:target of every fuzz target; `go test -fuzz` takes one target of one package at a time.
FUZZ_TARGETS := ./controllers/lifecycle:FuzzR2_AnAgreementIsActiveOnlyWhenNothingStopsIt \
	./controllers/evidence:FuzzR6_ARecordsDigestChangesWithItsContent \
	./controllers/records:FuzzR8_AnyChangeToARecordIsCaught \
	./controllers/grant:FuzzR4_AGrantIsActiveOnlyWhenEverythingAllowsIt
.PHONY: fuzz
fuzz: ## Fuzz the agreement's and the grant's phase machines, the evidence digests and the records chain, FUZZTIME (5000x) each (failures land in testdata/fuzz).
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t#*:} ($(FUZZTIME))"; \
	  go test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

SOAK ?= 10m
SOAK_TIMEOUT ?= 45m
.PHONY: soak
soak: ## Churn agreements and workspaces for $(SOAK) while the manager is killed every few seconds; report how long access outlived each boundary.
	OPDOMAIN_SOAK=$(SOAK) KUBEBUILDER_ASSETS="$$(hack/setup-control-plane.sh)" go test -count=1 -v -timeout=$(SOAK_TIMEOUT) ./test/soak

.PHONY: chart
chart: $(HELM) ## Lint the Helm chart and render it: self-issued or cert-manager webhook certificate, with the in-domain resolver, without records or disclosure, without CRDs, with the records' bucket, one replica or two; values checked by values.schema.json.
	$(HELM) lint charts/opdomain
	$(HELM) template opdomain charts/opdomain > /dev/null
	$(HELM) template opdomain charts/opdomain --set webhook.certManager=true > /dev/null
	$(HELM) template opdomain charts/opdomain --set dns.resolver.enabled=true > /dev/null
	$(HELM) template opdomain charts/opdomain --set records.enabled=false --set disclosure.enabled=false > /dev/null
	$(HELM) template opdomain charts/opdomain | grep PodDisruptionBudget > /dev/null # two managers by default
	! $(HELM) template opdomain charts/opdomain --set replicas=1 | grep PodDisruptionBudget > /dev/null # a budget would block every drain
	$(HELM) template opdomain charts/opdomain --set crds.enabled=false > $(LOCALBIN)/chart-without-crds.yaml
	! grep -q CustomResourceDefinition $(LOCALBIN)/chart-without-crds.yaml
	$(HELM) template opdomain charts/opdomain --set records.bucket.url=https://s3.example/records --set records.bucket.credentialsSecret=s3 | grep -- --records-bucket=https://s3.example/records > /dev/null
	! $(HELM) template opdomain charts/opdomain --set records.bucket.url=https://s3.example/records > /dev/null 2>&1 # a bucket needs its credentials
	$(HELM) template opdomain charts/opdomain --set metrics.prometheusRule.enabled=true --set metrics.dashboard.enabled=true > /dev/null
	$(HELM) template opdomain charts/opdomain --set records.enabled=false | { ! grep -q recorder; } # no recorder without records
	! $(HELM) template opdomain charts/opdomain --set records.sise=1Gi > /dev/null 2>&1 # values.schema.json refuses a misspelt value

.PHONY: bench
bench: ## Run the benchmarks against a real control plane, and on the real node.
	KUBEBUILDER_ASSETS="$$(hack/setup-control-plane.sh)" OPDOMAIN_NODE_BIN="$$(hack/setup-node.sh)" \
	  go test -p 1 -run '^$$' -bench . $(BENCH_FLAGS) ./...

.PHONY: demo
demo: manifests ## Start a local control plane, the operator and the samples (NODE=1: a real node too, as root); Ctrl-C stops it all.
	KUBEBUILDER_ASSETS="$$(hack/setup-control-plane.sh)" $(if $(NODE),OPDOMAIN_NODE_BIN="$$(hack/setup-node.sh)") go run ./hack/demo $(DEMO_FLAGS) $(if $(NODE),-node)

##@ Build

.PHONY: build
build: ## Build the manager binary.
	go build -o $(LOCALBIN)/manager .

RELEASE_DIR ?= $(LOCALBIN)/release
.PHONY: release
release: manifests $(HELM) ## Write the release of $(VERSION) into bin/release: install.yaml, the packaged chart, the image archive and its SBOM.
	mkdir -p $(RELEASE_DIR)
	"$$(hack/setup-control-plane.sh)/kubectl" kustomize config/default > $(RELEASE_DIR)/install.yaml
	$(HELM) package charts/opdomain -d $(RELEASE_DIR)
	go run ./hack/image/manager -ref $(IMG) -o $(RELEASE_DIR)/opdomain-manager-$(VERSION).tar -sbom $(RELEASE_DIR)/opdomain-manager-$(VERSION).sbom.cdx.json

.PHONY: plugin
plugin: ## Build the kubectl plugin, bin/kubectl-opdomain (the manager's binary under the plugin's name), and its completion, bin/kubectl_complete-opdomain.
	go build -o $(LOCALBIN)/kubectl-opdomain .
	ln -sf kubectl-opdomain $(LOCALBIN)/kubectl_complete-opdomain

.PHONY: image
image: ## Build the manager image $(IMG) offline into bin/opdomain-manager.tar (docker load, podman load, ctr images import), and its SBOM.
	go run ./hack/image/manager -ref $(IMG) -o $(LOCALBIN)/opdomain-manager.tar

.PHONY: run
run: manifests ## Run the manager against the cluster in $KUBECONFIG.
	go run . 

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

$(GOLANGCI_LINT): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(KUBE_API_LINTER): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter@$(KUBE_API_LINTER_VERSION)

$(HELM): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
