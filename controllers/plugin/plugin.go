// Package plugin is kubectl-opdomain, the kubectl plugin: the manager's binary run under that
// name. It reads and acts as the caller, with the caller's kubeconfig and rights: a domain at a
// glance, a member's kubeconfig, a grant's review, the evidence chain's verification.
package plugin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/product"
	"github.com/opdomain/opdomain/controllers/workspace"
)

// Name is the name the manager's binary answers to as a kubectl plugin.
const Name = "kubectl-opdomain"

const usage = `kubectl opdomain: the operation domains of this cluster, as you may see them.

  kubectl opdomain status DOMAIN [-o table|json|yaml]
      the domain at a glance: agreements, workspaces, grants, products, what expires next
  kubectl opdomain kubeconfig WORKSPACE MEMBER -n CONTROL_NAMESPACE [--to FILE]
      a member's current kubeconfig (written 0600 with --to)
  kubectl opdomain review grant NAME --approve|--reject [--comment TEXT] -n CONTROL_NAMESPACE
      review a grant as yourself
  kubectl opdomain review product NAME --approve|--reject|--request-changes [--fail POINT,...]
      [--stage STAGE] [--comment TEXT] -n CONTROL_NAMESPACE
      review the sealed revision of a product as yourself, at the stage awaited: every review
      point passes but those --fail names
  kubectl opdomain verify DOMAIN
      verify the domain's evidence chain (exit 1 when it was tampered with)
  kubectl opdomain records DOMAIN [--workspace W] [--person P] [--grant G] [--since T] [--until T]
      [--limit N] [-o table|json|yaml]
      the domain's operation records, oldest first; T is RFC 3339 or a duration back from now (24h)

Flags of every command: --kubeconfig, --context, --as, -n/--namespace.
`

// Main runs the plugin with args (the command, its arguments and flags, in any order, as with
// kubectl) and returns the exit code: 0 done, 1 found wrong (a chain tampered with), 2 could
// not do it.
func Main(args []string, stdout, stderr io.Writer) int {
	in, err := parse(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) || err == nil && (len(in.args) == 0 || in.args[0] == "help") {
		_, _ = fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "kubectl opdomain: %v\n", err)
		return 2
	}
	commands := map[string]func(context.Context, *invocation) (int, error){
		"status": status, "kubeconfig": kubeconfig, "review": review, "verify": verify, "records": listRecords,
	}
	command := in.args[0]
	run, ok := commands[command]
	if !ok {
		_, _ = fmt.Fprintf(stderr, "kubectl opdomain: unknown command %q\n\n%s", command, usage)
		return 2
	}
	in.args = in.args[1:]
	if err := in.connect(); err != nil {
		_, _ = fmt.Fprintf(stderr, "kubectl opdomain %s: %v\n", command, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, err := run(ctx, in)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "kubectl opdomain %s: %v\n", command, err)
		return 2
	}
	return code
}

// invocation is a parsed command line, and a client acting as the caller.
type invocation struct {
	kubeconfigPath, kubeContext, as string
	args                            []string
	namespace, output, to, comment  string
	approve, reject, requestChanges bool
	// A product review's failing points (comma-separated) and stage.
	fail, stage string
	// The records' filters: see listRecords.
	workspace, person, grant, since, until string
	limit                                  int
	config                                 *rest.Config
	client                                 client.Client
	stdout                                 io.Writer
}

func parse(args []string, stdout, stderr io.Writer) (*invocation, error) {
	in := &invocation{stdout: stdout}
	fs := in.flags()
	fs.SetOutput(stderr)
	// Flags may follow the arguments, as with kubectl.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional, args = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	in.args = positional
	return in, nil
}

// flags are the plugin's flags, parsed into in.
func (in *invocation) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(Name, flag.ContinueOnError)
	fs.StringVar(&in.kubeconfigPath, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&in.kubeContext, "context", "", "kubeconfig context")
	fs.StringVar(&in.as, "as", "", "user to impersonate")
	fs.StringVar(&in.namespace, "namespace", "", "the domain's control namespace")
	fs.StringVar(&in.namespace, "n", "", "the domain's control namespace")
	fs.StringVar(&in.output, "o", "table", "output: table, json or yaml")
	fs.StringVar(&in.to, "to", "", "file to write the kubeconfig to, mode 0600")
	fs.BoolVar(&in.approve, "approve", false, "approve")
	fs.BoolVar(&in.reject, "reject", false, "reject")
	fs.StringVar(&in.comment, "comment", "", "the review's comment")
	fs.BoolVar(&in.requestChanges, "request-changes", false, "request changes (a product's review)")
	fs.StringVar(&in.fail, "fail", "", "the review points a product fails, comma-separated")
	fs.StringVar(&in.stage, "stage", "", "the review stage (default: the one the product awaits)")
	fs.StringVar(&in.workspace, "workspace", "", "records: only requests made with a member credential of this DeveloperWorkspace")
	fs.StringVar(&in.person, "person", "", "records: only requests of this person")
	fs.StringVar(&in.grant, "grant", "", "records: only requests on this DataGrant, and its token's uses by data services")
	fs.StringVar(&in.since, "since", "", "records: only records at or after this time (RFC 3339, or a duration back from now)")
	fs.StringVar(&in.until, "until", "", "records: only records before this time (RFC 3339, or a duration back from now)")
	fs.IntVar(&in.limit, "limit", 0, "records: at most this many (0: all)")
	return fs
}

// connect makes the client that acts as the caller, from their kubeconfig.
func (in *invocation) connect() error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = in.kubeconfigPath
	overrides := &clientcmd.ConfigOverrides{CurrentContext: in.kubeContext}
	overrides.AuthInfo.Impersonate = in.as
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if err != nil {
		return err
	}
	in.config = cfg
	if in.namespace == "" {
		in.namespace, _, _ = loader.Namespace()
	}
	in.client, err = client.New(cfg, client.Options{Scheme: controllers.Scheme()})
	return err
}

// want checks the number of positional arguments.
func (in *invocation) want(n int, what string) error {
	if len(in.args) != n {
		return fmt.Errorf("want %s, got %q", what, in.args)
	}
	return nil
}

// print writes v as JSON or YAML when -o asks for it and says whether it did.
func (in *invocation) print(v any) (bool, error) {
	switch in.output {
	case "json":
		enc := json.NewEncoder(in.stdout)
		enc.SetIndent("", "  ")
		return true, enc.Encode(v)
	case "yaml":
		out, err := yaml.Marshal(v)
		if err == nil {
			_, err = in.stdout.Write(out)
		}
		return true, err
	case "table", "":
		return false, nil
	}
	return true, fmt.Errorf("-o %s: want table, json or yaml", in.output)
}

// Status is a domain at a glance.
type Status struct {
	Domain        string  `json:"domain"`
	Ready         string  `json:"ready"`
	Rulebook      string  `json:"rulebook"`
	EmergencyStop bool    `json:"emergencyStop"`
	EvidenceHead  int64   `json:"evidenceHead"`
	Agreements    []Row   `json:"agreements"`
	Workspaces    []Row   `json:"workspaces"`
	Grants        []Row   `json:"grants"`
	Products      []Row   `json:"products"`
	NextExpiry    *Expiry `json:"nextExpiry,omitempty"`
}

// Row is one object: its name, phase, and what it says beside.
type Row struct {
	Name    string     `json:"name"`
	Phase   string     `json:"phase"`
	Detail  string     `json:"detail,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
}

// Expiry is what closes next by itself, and when.
type Expiry struct {
	What string    `json:"what"`
	At   time.Time `json:"at"`
}

func status(ctx context.Context, in *invocation) (int, error) {
	if err := in.want(1, "DOMAIN"); err != nil {
		return 2, err
	}
	var d opv1.OperationDomain
	if err := in.client.Get(ctx, client.ObjectKey{Name: in.args[0]}, &d); err != nil {
		return 2, err
	}
	st := Status{Domain: d.Name, Ready: "Unknown", Rulebook: string(d.Status.Policy.Rulebook), EmergencyStop: d.Spec.EmergencyStop.Active,
		EvidenceHead: d.Status.Evidence.Head.Sequence, Agreements: []Row{}, Workspaces: []Row{}, Grants: []Row{}, Products: []Row{}}
	if c := meta.FindStatusCondition(d.Status.Conditions, opv1.ConditionReady); c != nil {
		st.Ready = string(c.Status)
	}
	ns := client.InNamespace(d.Spec.ControlNamespace)
	var agreements opv1.AuthorizationList
	var workspaces opv1.DeveloperWorkspaceList
	var grants opv1.DataGrantList
	var products opv1.DataProductList
	for _, list := range []client.ObjectList{&agreements, &workspaces, &grants, &products} {
		if err := in.client.List(ctx, list, ns); err != nil {
			return 2, err
		}
	}
	next := func(what string, at time.Time) {
		if st.NextExpiry == nil || at.Before(st.NextExpiry.At) {
			st.NextExpiry = &Expiry{What: what, At: at}
		}
	}
	for _, a := range agreements.Items {
		end := a.Spec.Term.End.UTC()
		st.Agreements = append(st.Agreements, Row{Name: a.Name, Phase: string(a.Status.Phase), Detail: fmt.Sprintf("%s, %s", a.Spec.Role, a.Spec.Party.Name), Expires: &end})
		if a.Status.Phase == opv1.PhaseActive {
			next("agreement "+a.Name, end)
		}
	}
	for _, w := range workspaces.Items {
		row := Row{Name: w.Name, Phase: string(w.Status.Phase), Detail: fmt.Sprintf("%d member(s)", len(w.Status.Credentials))}
		for _, c := range w.Status.Credentials {
			at := c.ExpiresAt.UTC()
			if row.Expires == nil || at.Before(*row.Expires) {
				row.Expires = &at
			}
			next("credential of "+c.Member+" in "+w.Name, at)
		}
		st.Workspaces = append(st.Workspaces, row)
	}
	for _, g := range grants.Items {
		row := Row{Name: g.Name, Phase: string(g.Status.Phase), Detail: "workspace " + g.Spec.Workspace}
		if g.Status.ExpiresAt != nil {
			at := g.Status.ExpiresAt.UTC()
			row.Expires = &at
			if g.Status.Phase == opv1.GrantActive {
				next("grant "+g.Name, at)
			}
		}
		st.Grants = append(st.Grants, row)
	}
	for _, p := range products.Items {
		st.Products = append(st.Products, Row{Name: p.Name, Phase: string(p.Status.Phase), Detail: string(p.Spec.Type)})
	}
	for _, rows := range [][]Row{st.Agreements, st.Workspaces, st.Grants, st.Products} {
		slices.SortFunc(rows, func(a, b Row) int { return strings.Compare(a.Name, b.Name) })
	}
	if printed, err := in.print(st); printed || err != nil {
		return 0, err
	}
	_, _ = fmt.Fprintf(in.stdout, "domain %s: ready %s, rulebook %s, emergency stop %v, evidence chain at record %d\n\n",
		st.Domain, st.Ready, st.Rulebook, st.EmergencyStop, st.EvidenceHead)
	w := tabwriter.NewWriter(in.stdout, 0, 4, 2, ' ', 0)
	for _, section := range []struct {
		title string
		rows  []Row
	}{{"AGREEMENT", st.Agreements}, {"WORKSPACE", st.Workspaces}, {"GRANT", st.Grants}, {"PRODUCT", st.Products}} {
		if len(section.rows) == 0 {
			continue
		}
		_, _ = fmt.Fprintf(w, "%s\tPHASE\tEXPIRES\tDETAIL\n", section.title)
		for _, r := range section.rows {
			expires := "-"
			if r.Expires != nil {
				expires = r.Expires.Format(time.RFC3339)
			}
			_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Name, cmp.Or(r.Phase, "-"), expires, r.Detail)
		}
		_, _ = fmt.Fprintln(w)
	}
	if st.NextExpiry != nil {
		_, _ = fmt.Fprintf(w, "NEXT TO EXPIRE\t\t%s\t%s\n", st.NextExpiry.At.Format(time.RFC3339), st.NextExpiry.What)
	}
	return 0, w.Flush()
}

func kubeconfig(ctx context.Context, in *invocation) (int, error) {
	if err := in.want(2, "WORKSPACE MEMBER"); err != nil {
		return 2, err
	}
	var ws opv1.DeveloperWorkspace
	if err := in.client.Get(ctx, client.ObjectKey{Namespace: in.namespace, Name: in.args[0]}, &ws); err != nil {
		return 2, err
	}
	i := slices.IndexFunc(ws.Status.Credentials, func(c opv1.Credential) bool { return c.Member == in.args[1] })
	if i < 0 {
		return 2, fmt.Errorf("workspace %s holds no credential for %s (is the member trained and the workspace Ready?)", ws.Name, in.args[1])
	}
	var secret corev1.Secret
	if err := in.client.Get(ctx, client.ObjectKey{Namespace: in.namespace, Name: ws.Status.Credentials[i].SecretName}, &secret); err != nil {
		return 2, err
	}
	out := secret.Data[workspace.KubeconfigKey]
	if len(out) == 0 {
		return 2, errors.New("the credential's Secret holds no kubeconfig")
	}
	if in.to != "" {
		return 0, os.WriteFile(in.to, out, 0o600)
	}
	_, err := in.stdout.Write(out)
	return 0, err
}

func review(ctx context.Context, in *invocation) (int, error) {
	if err := in.want(2, "grant|product NAME"); err != nil {
		return 2, err
	}
	reviews := map[string]func(context.Context, *invocation, string) (int, error){"grant": reviewGrant, "product": reviewProduct}
	run, ok := reviews[in.args[0]]
	if !ok {
		return 2, fmt.Errorf("%s: grants and products are reviewed here", in.args[0])
	}
	who := &authenticationv1.SelfSubjectReview{}
	if err := in.client.Create(ctx, who); err != nil {
		return 2, fmt.Errorf("asking who you are: %w", err)
	}
	return run(ctx, in, who.Status.UserInfo.Username)
}

// reviewGrant writes the caller's review of a grant.
func reviewGrant(ctx context.Context, in *invocation, reviewer string) (int, error) {
	if in.approve == in.reject || in.requestChanges || in.fail != "" || in.stage != "" {
		return 2, errors.New("a grant's review says --approve or --reject, and nothing of a product's")
	}
	decision := opv1.ReviewApproved
	if in.reject {
		decision = opv1.ReviewRejected
	}
	var g opv1.DataGrant
	if err := in.client.Get(ctx, client.ObjectKey{Namespace: in.namespace, Name: in.args[1]}, &g); err != nil {
		return 2, err
	}
	patch := client.MergeFrom(g.DeepCopy())
	g.Spec.Review = &opv1.Review{Reviewer: reviewer, Decision: decision, Comment: in.comment}
	if err := in.client.Patch(ctx, &g, patch); err != nil {
		return 2, err
	}
	_, err := fmt.Fprintf(in.stdout, "datagrant/%s %s by %s\n", g.Name, strings.ToLower(string(decision)), reviewer)
	return 0, err
}

// reviewProduct appends the caller's review of the revision the operator sealed, at the stage
// awaited (or --stage), answering every point: Pass, but for the points --fail names.
func reviewProduct(ctx context.Context, in *invocation, reviewer string) (int, error) {
	var decision opv1.ProductDecision
	said := 0
	for _, d := range []struct {
		set      bool
		decision opv1.ProductDecision
	}{{in.approve, opv1.DecisionApproved}, {in.reject, opv1.DecisionRejected}, {in.requestChanges, opv1.DecisionChangesRequested}} {
		if d.set {
			decision, said = d.decision, said+1
		}
	}
	if said != 1 {
		return 2, errors.New("say one of --approve, --reject, --request-changes")
	}
	failing := map[opv1.ReviewPoint]bool{}
	for _, point := range strings.FieldsFunc(in.fail, func(r rune) bool { return r == ',' }) {
		if !slices.Contains(opv1.ReviewPoints, opv1.ReviewPoint(point)) {
			return 2, fmt.Errorf("--fail %s: the review points are %v", point, opv1.ReviewPoints)
		}
		failing[opv1.ReviewPoint(point)] = true
	}
	if decision == opv1.DecisionApproved && len(failing) > 0 {
		return 2, errors.New("an approval passes every review point: --reject or --request-changes instead")
	}
	var p opv1.DataProduct
	if err := in.client.Get(ctx, client.ObjectKey{Namespace: in.namespace, Name: in.args[1]}, &p); err != nil {
		return 2, err
	}
	if p.Status.Sealed == nil {
		return 2, fmt.Errorf("dataproduct/%s is %s: nothing is sealed to review yet", p.Name, cmp.Or(string(p.Status.Phase), "new"))
	}
	stage := opv1.ReviewStage(in.stage)
	if stage == "" {
		if stage = product.Decide(product.Inputs{Product: &p, Stages: p.Status.Stages}).Stage; stage == "" {
			return 2, fmt.Errorf("dataproduct/%s is %s: no stage awaits a review", p.Name, p.Status.Phase)
		}
	}
	r := opv1.ProductReview{Stage: stage, Reviewer: reviewer, SHA256: p.Status.Sealed.SHA256, Decision: decision,
		Time: metav1.NewTime(time.Now()), Comment: in.comment}
	for _, point := range opv1.ReviewPoints {
		result := opv1.CheckPass
		if failing[point] {
			result = opv1.CheckFail
		}
		r.Points = append(r.Points, opv1.PointFinding{Point: point, Result: result})
	}
	// Optimistic: a review appended meanwhile by another is not overwritten.
	patch := client.MergeFromWithOptions(p.DeepCopy(), client.MergeFromWithOptimisticLock{})
	p.Spec.Reviews = append(p.Spec.Reviews, r)
	if err := in.client.Patch(ctx, &p, patch); err != nil {
		return 2, err
	}
	_, err := fmt.Fprintf(in.stdout, "dataproduct/%s %s review of %.12s: %s by %s\n", p.Name, stage, r.SHA256, decision, reviewer)
	return 0, err
}

func verify(ctx context.Context, in *invocation) (int, error) {
	if err := in.want(1, "DOMAIN"); err != nil {
		return 2, err
	}
	problems, n, err := evidence.VerifyDomain(ctx, in.client, in.args[0])
	if err != nil {
		return 2, err
	}
	for _, p := range problems {
		_, _ = fmt.Fprintln(in.stdout, "TAMPERED:", p)
	}
	if len(problems) > 0 {
		return 1, nil
	}
	_, err = fmt.Fprintf(in.stdout, "evidence of domain %s is intact: %d record(s)\n", in.args[0], n)
	return 0, err
}
