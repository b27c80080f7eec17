package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/evidence"
)

// The state of every domain, read from the manager's cache at each scrape.
var (
	agreements = prometheus.NewDesc("opdomain_agreements", "Authorizations by domain and phase.",
		[]string{"domain", "phase"}, nil)
	workspaces = prometheus.NewDesc("opdomain_workspaces", "DeveloperWorkspaces by domain and phase.",
		[]string{"domain", "phase"}, nil)
	grants = prometheus.NewDesc("opdomain_grants", "DataGrants by domain and phase.",
		[]string{"domain", "phase"}, nil)
	grantExpiry = prometheus.NewDesc("opdomain_grant_expiry_timestamp_seconds",
		"When an open grant closes by itself: its term's end, or its agreement's if earlier.", []string{"domain", "grant"}, nil)
	credentialExpiry = prometheus.NewDesc("opdomain_credential_expiry_timestamp_seconds",
		"When a member's credential stops working by itself.", []string{"domain", "workspace", "member"}, nil)
	evidenceLength = prometheus.NewDesc("opdomain_evidence_chain_head",
		"The sequence number of the newest record of the domain's evidence chain.", []string{"domain"}, nil)
	recordsHead = prometheus.NewDesc("opdomain_records_anchored_head",
		"The sequence number of the domain's newest operation record, as last anchored.", []string{"domain"}, nil)
	emergencyStop = prometheus.NewDesc("opdomain_emergency_stop",
		"1 while the domain's emergency stop is active.", []string{"domain"}, nil)
	evidenceIntact = prometheus.NewDesc("opdomain_evidence_chain_intact",
		"1 while the domain's evidence chain verifies against its head and pruning point, 0 once it does not.", []string{"domain"}, nil)
	evaluationWarning = prometheus.NewDesc("opdomain_evaluation_warning",
		"1 while an agreement's EvaluationWarning is True, by its reason (EvaluationOverdue, RectificationDue, ...).", []string{"domain", "agreement", "reason"}, nil)
)

// state is the collector of the domains' state; it reads through the reader Watch gives it.
type state struct {
	mu      sync.Mutex
	reader  client.Reader
	elected <-chan struct{}
}

var (
	theState = &state{}
	register sync.Once
)

// Watch has the state of every domain read through reader (the manager's cache) at each scrape,
// once elected closes: only the leading replica reports it, so that a sum over every replica's
// series counts each object once. A manager started again in the same process hands over its own.
func Watch(reader client.Reader, elected <-chan struct{}) {
	register.Do(func() { ctrlmetrics.Registry.MustRegister(theState) })
	theState.mu.Lock()
	defer theState.mu.Unlock()
	theState.reader, theState.elected = reader, elected
}

func (s *state) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{agreements, workspaces, grants, grantExpiry, credentialExpiry, evidenceLength, recordsHead, emergencyStop, evidenceIntact, evaluationWarning} {
		ch <- d
	}
}

// Collect reads the domains and what they hold; a list that fails leaves its metrics out of the
// scrape rather than reporting a wrong zero.
func (s *state) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	reader, elected := s.reader, s.elected
	s.mu.Unlock()
	select {
	case <-elected:
	default:
		return // a standby replica: the leader reports
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var domains opv1.OperationDomainList
	if reader == nil || reader.List(ctx, &domains) != nil {
		return
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	for i := range domains.Items {
		d := &domains.Items[i]
		gauge(evidenceLength, float64(d.Status.Evidence.Head.Sequence), d.Name)
		if chain, err := evidence.Chain(ctx, reader, d); err == nil {
			gauge(evidenceIntact, boolValue(len(evidence.Verify(chain, d.Status.Evidence)) == 0), d.Name)
		}
		gauge(recordsHead, float64(d.Status.Records.Head.Sequence), d.Name)
		gauge(emergencyStop, boolValue(d.Spec.EmergencyStop.Active), d.Name)
		in := client.InNamespace(d.Spec.ControlNamespace)
		var as opv1.AuthorizationList
		if reader.List(ctx, &as, in) == nil {
			byPhase := map[string]int{}
			for _, a := range as.Items {
				byPhase[string(a.Status.Phase)]++
				if c := meta.FindStatusCondition(a.Status.Conditions, opv1.ConditionEvaluationWarning); c != nil && c.Status == metav1.ConditionTrue {
					gauge(evaluationWarning, 1, d.Name, a.Name, c.Reason)
				}
			}
			for phase, n := range byPhase {
				gauge(agreements, float64(n), d.Name, phase)
			}
		}
		var ws opv1.DeveloperWorkspaceList
		if reader.List(ctx, &ws, in) == nil {
			byPhase := map[string]int{}
			for _, w := range ws.Items {
				byPhase[string(w.Status.Phase)]++
				for _, c := range w.Status.Credentials {
					gauge(credentialExpiry, float64(c.ExpiresAt.Unix()), d.Name, w.Name, c.Member)
				}
			}
			for phase, n := range byPhase {
				gauge(workspaces, float64(n), d.Name, phase)
			}
		}
		var gs opv1.DataGrantList
		if reader.List(ctx, &gs, in) == nil {
			byPhase := map[string]int{}
			for _, g := range gs.Items {
				byPhase[string(g.Status.Phase)]++
				if g.Status.Phase == opv1.GrantActive && g.Status.ExpiresAt != nil {
					gauge(grantExpiry, float64(g.Status.ExpiresAt.Unix()), d.Name, g.Name)
				}
			}
			for phase, n := range byPhase {
				gauge(grants, float64(n), d.Name, phase)
			}
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
