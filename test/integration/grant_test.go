package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/policy"
)

const reviewer = "wang@operator.example" // a person of the Operator agreement in newWorld

// grantWorld is a world with two data services in the catalog, both in the agreements' scope.
type grantWorld struct {
	*world
	traffic, weather *opv1.DataResource
}

func newGrantWorld(t testing.TB, name string, mode opv1.NetworkPolicyMode) *grantWorld {
	t.Helper()
	w := &grantWorld{world: newWorld(t, name, mode, 30*24*time.Hour)}
	useResolver(t, w.domain, inDomainResolver(t))
	dataService(t, w.domain, "traffic-api", 8080)
	dataService(t, w.domain, "weather-api", 9090)
	w.traffic = dataResource(w.domain, "traffic-flow", 2, opv1.DataSource{Service: &opv1.ServiceSource{Name: "traffic-api", Port: 8080}})
	w.weather = dataResource(w.domain, "weather", 3, opv1.DataSource{Service: &opv1.ServiceSource{Name: "weather-api", Port: 9090}})
	g := NewWithT(t)
	for _, res := range []*opv1.DataResource{w.traffic, w.weather} {
		g.Expect(k8s.Create(ctx, res)).To(Succeed())
		g.Eventually(offerable(res), timeout, poll).Should(HavePrefix("True/"))
	}
	setScope(t, w.operator, "traffic-flow", "weather")
	setScope(t, w.developer, "traffic-flow", "weather")
	return w
}

// grant is an approved grant of traffic-flow's road and hour fields to the world's workspace,
// running from now for two hours.
func (w *grantWorld) grant(name string, mutate ...func(*opv1.DataGrantSpec)) *opv1.DataGrant {
	now := clock.Now()
	g := &opv1.DataGrant{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.control()},
		Spec: opv1.DataGrantSpec{
			Authorization: w.developer.Name,
			Workspace:     w.ws.Name,
			Scenario:      opv1.Scenario{Name: "urban congestion forecasting", Purpose: "hourly road load model"},
			Items:         []opv1.GrantItem{{Resource: "traffic-flow", Fields: []string{"road_id", "hour"}, Form: opv1.FormRaw}},
			Term:          opv1.Term{Start: metav1.NewTime(now), End: metav1.NewTime(now.Add(2 * time.Hour))},
			Measures:      "results aggregated to road level; no plates leave the workspace",
			RequestedBy:   member,
			Review:        &opv1.Review{Reviewer: reviewer, Decision: opv1.ReviewApproved, Time: ptr.To(metav1.NewTime(now))},
		},
	}
	for _, m := range mutate {
		m(&g.Spec)
	}
	return g
}

func grantPhase(g *opv1.DataGrant) func() opv1.GrantPhase {
	return func() opv1.GrantPhase {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(g), g)
		return g.Status.Phase
	}
}

// grantObjects lists the policies and the token Secret the grant has in the cluster, as
// kind/namespace/name.
func grantObjects(g *opv1.DataGrant) func() []string {
	return func() []string {
		sel := client.MatchingLabels{opv1.LabelOwnerKind: "DataGrant", opv1.LabelOwnerName: g.Name}
		var out []string
		var nps networkingv1.NetworkPolicyList
		_ = k8s.List(ctx, &nps, sel)
		for _, p := range nps.Items {
			out = append(out, "NetworkPolicy/"+p.Namespace+"/"+p.Name)
		}
		var cnps ciliumv2.CiliumNetworkPolicyList
		_ = k8s.List(ctx, &cnps, sel)
		for _, p := range cnps.Items {
			out = append(out, "CiliumNetworkPolicy/"+p.Namespace+"/"+p.Name)
		}
		var secrets corev1.SecretList
		_ = k8s.List(ctx, &secrets, sel)
		for _, s := range secrets.Items {
			out = append(out, "Secret/"+s.Namespace+"/"+s.Name)
		}
		return out
	}
}

func TestR4_GrantRulesAreCheckedAtAdmission(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "gra", opv1.NetworkPolicyKubernetes)
	personal := dataResource(w.domain, "residents", 2, opv1.DataSource{Service: &opv1.ServiceSource{Name: "traffic-api", Port: 8080}})
	personal.Spec.PersonalInformation = true
	g.Expect(k8s.Create(ctx, personal)).To(Succeed())
	setScope(t, w.operator, "traffic-flow", "weather", "residents", "hospital")
	setScope(t, w.developer, "traffic-flow", "weather", "residents", "hospital")
	other := newAgreement(t, w.domain, "other-dev", opv1.RoleDeveloper, "operator", 24*time.Hour, "91320100MA1PTHER3G")
	otherWS := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: "other-ws", Namespace: w.control()},
		Spec: opv1.DeveloperWorkspaceSpec{Authorization: other.Name}}
	g.Expect(k8s.Create(ctx, otherWS)).To(Succeed())

	for name, tc := range map[string]struct {
		mutate func(*opv1.DataGrantSpec)
		parts  []string
	}{
		"outside scope": {func(s *opv1.DataGrantSpec) { s.Items[0].Resource = "parking" },
			[]string{"spec.items[0].resource", "parking is outside the scope of agreement acme"}},
		"not in catalog": {func(s *opv1.DataGrantSpec) { s.Items[0].Resource = "hospital" },
			[]string{"spec.items[0].resource", "DataResource hospital not found"}},
		"unknown field": {func(s *opv1.DataGrantSpec) { s.Items[0].Fields = []string{"road_id", "driver_name"} },
			[]string{"spec.items[0].fields[1]", `traffic-flow has no field "driver_name"`}},
		"raw at level 3": {func(s *opv1.DataGrantSpec) {
			s.Items = []opv1.GrantItem{{Resource: "weather", Fields: []string{"hour"}, Form: opv1.FormRaw}}
		}, []string{"spec.items[0].form", "level 3", "NJ 7"}},
		"a sample at level 3": {func(s *opv1.DataGrantSpec) {
			s.Items = []opv1.GrantItem{{Resource: "weather", Fields: []string{"hour"}, Form: opv1.FormSample}}
		}, []string{"spec.items[0].form", "level 3", "a raw sample is still raw", "NJ 7"}},
		"a sensitive field not desensitized": {func(s *opv1.DataGrantSpec) { s.Items[0].Fields = []string{"road_id", "plate"} },
			[]string{"spec.items[0].fields[1]", "traffic-flow.plate is marked sensitive", "only Desensitized", "YC plan 五(一)3"}},
		"no protective measures": {func(s *opv1.DataGrantSpec) { s.Measures = "" }, []string{"spec.measures"}},
		"personal information without consent": {func(s *opv1.DataGrantSpec) {
			s.Items = []opv1.GrantItem{{Resource: "residents", Fields: []string{"road_id"}, Form: opv1.FormDesensitized}}
		}, []string{"spec.consent.reference", "residents holds personal information"}},
		"term beyond the agreement": {func(s *opv1.DataGrantSpec) { s.Term.End = metav1.NewTime(w.developer.Spec.Term.End.Add(time.Hour)) },
			[]string{"spec.term", "within the term of agreement acme"}},
		"another agreement's workspace": {func(s *opv1.DataGrantSpec) { s.Workspace = otherWS.Name },
			[]string{"spec.workspace", "belongs to agreement other-dev, not acme"}},
		"reviewed by the requester": {func(s *opv1.DataGrantSpec) { s.Review.Reviewer = member },
			[]string{"spec.review.reviewer", "requested the grant and may not review it"}},
		"reviewed by the developer party": {func(s *opv1.DataGrantSpec) { s.Review.Reviewer = "zhaoliu@acme.example" },
			[]string{"spec.review.reviewer", "person of the party the grant is for", "two-person rule"}},
	} {
		t.Run(name, func(t *testing.T) { rejectedAs(t, asReviewer, w.grant("bad", tc.mutate), tc.parts...) })
	}

	// A sensitive field is granted desensitized.
	g.Expect(asReviewer.Create(ctx, w.grant("plates-masked", func(s *opv1.DataGrantSpec) {
		s.Items = []opv1.GrantItem{{Resource: "traffic-flow", Fields: []string{"road_id", "plate"}, Form: opv1.FormDesensitized}}
	}), client.DryRunAll)).To(Succeed())
	// An agreement that lists its scenarios admits grants for those only (JS art. 13(3)).
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.developer), w.developer)).To(Succeed())
	scenarios := client.MergeFrom(w.developer.DeepCopy())
	w.developer.Spec.Scope.Scenarios = []string{"urban congestion forecasting"}
	g.Expect(k8s.Patch(ctx, w.developer, scenarios)).To(Succeed())
	rejectedAs(t, asReviewer, w.grant("bad", func(s *opv1.DataGrantSpec) { s.Scenario.Name = "parking demand" }),
		"spec.scenario.name", `"parking demand" is not a scenario agreement acme covers`, "JS art. 13(3)")
	g.Expect(asReviewer.Create(ctx, w.grant("agreed-scenario"), client.DryRunAll)).To(Succeed())

	// The negative list wins over the scope.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)).To(Succeed())
	patch := client.MergeFrom(w.domain.DeepCopy())
	w.domain.Spec.NegativeList = []string{"weather"}
	g.Expect(k8s.Patch(ctx, w.domain, patch)).To(Succeed())
	rejectedAs(t, asReviewer, w.grant("bad", func(s *opv1.DataGrantSpec) {
		s.Items = []opv1.GrantItem{{Resource: "weather", Fields: []string{"hour"}, Form: opv1.FormSample}}
	}), "spec.items[0].resource", "weather is on the domain's negative list")

	// After approval the list, the scenario and the workspace are fixed (CEL).
	ok := w.grant("fixed")
	g.Expect(asReviewer.Create(ctx, ok)).To(Succeed())
	patch = client.MergeFrom(ok.DeepCopy())
	ok.Spec.Items[0].Fields = append(ok.Spec.Items[0].Fields, "vehicle_count")
	err := k8s.Patch(ctx, ok, patch)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("a new scenario is a new grant"))
}

// R4: the path exists only while the grant is Active, and the truth table computed by cyclonus
// and by Cilium's own code from the stored policies is exactly the one granted.
func TestR4_GrantOpensExactlyOnePathWhileActive(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "grp", opv1.NetworkPolicyBoth)
	rival := addWorkspace(t, w.world, "rival")
	dataZone := w.domain.Spec.DataZoneNamespace

	grant := w.grant("congestion")
	g.Expect(asReviewer.Create(ctx, grant)).To(Succeed())
	g.Eventually(grantPhase(grant), timeout, poll).Should(Equal(opv1.GrantActive))
	g.Expect(grant.Status.ExpiresAt.Time).To(BeTemporally("==", grant.Spec.Term.End.Time))
	egress, ingress := policy.EgressName("congestion"), policy.IngressName("congestion", 0)
	g.Expect(grantObjects(grant)()).To(ConsistOf(
		"NetworkPolicy/"+w.wsNamespace()+"/"+egress, "NetworkPolicy/"+dataZone+"/"+ingress,
		"CiliumNetworkPolicy/"+w.wsNamespace()+"/"+egress, "CiliumNetworkPolicy/"+dataZone+"/"+ingress,
		"Secret/"+w.wsNamespace()+"/opdomain-grant-congestion"))
	g.Expect(grant.Status.Opened).To(HaveLen(5), "four policies and the token Secret")
	g.Expect(grant.Status.Opened).To(HaveEach(HaveField("UID", Not(BeEmpty()))))

	train, rivalTrain := pod(w.wsNamespace(), "train"), pod(rival.Status.Namespace, "train")
	traffic, weather := pod(dataZone, "traffic-api"), pod(dataZone, "weather-api")
	namespaces := []string{w.wsNamespace(), rival.Status.Namespace, dataZone, w.control()}
	open := []expectation{
		allow(flow(train, traffic, 8080, tcp)),
		deny(flow(train, traffic, 9090, tcp)),
		deny(flow(train, traffic, 8080, udp)),
		deny(flow(train, weather, 9090, tcp)),
		deny(flow(rivalTrain, traffic, 8080, tcp)),
		deny(flow(pod("default", "curl"), traffic, 8080, tcp)),
		deny(flow(traffic, train, 8080, tcp)),
		allow(flow(train, domainResolver, 53, udp)),
		deny(flow(train, kubeDNS, 53, udp)),
		deny(flow(train, outside, 443, tcp)),
		deny(flow(traffic, outside, 443, tcp)),
	}
	closed := []expectation{
		deny(flow(train, traffic, 8080, tcp)),
		deny(flow(rivalTrain, traffic, 8080, tcp)),
		deny(flow(train, outside, 443, tcp)),
	}
	assertFlows(t, namespaces, open)

	cut := func(why string, phase opv1.GrantPhase) {
		t.Helper()
		g.Eventually(grantPhase(grant), time.Second, 10*time.Millisecond).Should(Equal(phase), why)
		g.Eventually(grantObjects(grant), time.Second, 10*time.Millisecond).Should(BeEmpty(), why)
		assertFlows(t, namespaces, closed)
	}
	reopened := func(why string) {
		t.Helper()
		g.Eventually(grantPhase(grant), timeout, poll).Should(Equal(opv1.GrantActive), why)
		g.Eventually(grantObjects(grant), timeout, poll).Should(HaveLen(5), why)
		// The workspace reopens its own allows (DNS) on its own schedule.
		g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceReady), why)
		assertFlows(t, namespaces, open)
	}

	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionRegulatorOrder})
	cut("agreement suspended", opv1.GrantSuspended)
	setSuspension(t, w.developer, nil)
	reopened("suspension lifted")

	setEmergencyStop(t, w.domain, true)
	cut("emergency stop", opv1.GrantSuspended)
	g.Expect(conditionText(grant, opv1.ConditionReady)()).To(HavePrefix("False/" + opv1.ReasonEmergencyStop))
	setEmergencyStop(t, w.domain, false)
	reopened("emergency stop lifted")

	// Deleting a grant closes its path; its neighbour stays open.
	second := w.grant("second")
	g.Expect(asReviewer.Create(ctx, second)).To(Succeed())
	g.Eventually(grantPhase(second), timeout, poll).Should(Equal(opv1.GrantActive))
	g.Expect(k8s.Delete(ctx, second)).To(Succeed())
	g.Eventually(grantObjects(second), time.Second, 10*time.Millisecond).Should(BeEmpty())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(second), second)) }, timeout, poll).Should(BeTrue())
	g.Expect(grantObjects(grant)()).To(HaveLen(5))

	// The term ends on the operator's clock: closed within a second, for good.
	clock.Step(grant.Spec.Term.End.Sub(clock.Now()) + time.Millisecond)
	cut("term ended", opv1.GrantExpired)
	g.Expect(grant.Status.Opened).To(BeEmpty())
}

// tokenOf reads a grant's token from its Secret in the workspace.
func tokenOf(t testing.TB, w *grantWorld, gr *opv1.DataGrant) string {
	t.Helper()
	g := NewWithT(t)
	var token string
	// The Secret and the status are two writes: read until they name the same token.
	g.Eventually(func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(gr), gr); err != nil {
			return err
		}
		if gr.Status.Credential == nil {
			return fmt.Errorf("grant %s has no credential yet", gr.Name)
		}
		var s corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: w.wsNamespace(), Name: gr.Status.Credential.SecretName}, &s); err != nil {
			return err
		}
		token = string(s.Data[grant.TokenKey])
		claims, err := verify(w, token)
		if err == nil && claims.ID != gr.Status.Credential.TokenID {
			err = fmt.Errorf("the Secret holds token %s, the status names %s", claims.ID, gr.Status.Credential.TokenID)
		}
		return err
	}, timeout, poll).Should(Succeed())
	return token
}

// verify checks a token the way a data service does: offline, against the JWKS published in
// the data zone.
func verify(w *grantWorld, token string) (grant.TokenClaims, error) {
	var claims grant.TokenClaims
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: w.domain.Spec.DataZoneNamespace, Name: grant.JWKSConfigMap}, &cm); err != nil {
		return claims, err
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(cm.Data[grant.JWKSKey]), &jwks); err != nil {
		return claims, err
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return claims, err
	}
	keys := jwks.Key(parsed.Headers[0].KeyID)
	if len(keys) == 0 {
		return claims, fmt.Errorf("key %q is not published", parsed.Headers[0].KeyID)
	}
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		return claims, err
	}
	return claims, claims.ValidateWithLeeway(jwt.Expected{
		Issuer: "opdomain.io/" + w.domain.Name, AnyAudience: jwt.Audience{grant.Audience(w.domain.Name)}, Time: clock.Now(),
	}, 0)
}

func TestR4_GrantTokenVerifiesOfflineAndOutlivesKeyRotationOnlyWhileItsGrantLives(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "gtk", opv1.NetworkPolicyKubernetes)
	first := w.grant("first")
	g.Expect(asReviewer.Create(ctx, first)).To(Succeed())
	g.Eventually(grantPhase(first), timeout, poll).Should(Equal(opv1.GrantActive))
	firstToken := tokenOf(t, w, first)

	claims, err := verify(w, firstToken)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(claims.Subject).To(Equal(w.wsNamespace()))
	g.Expect(claims.Grant).To(Equal("first"))
	g.Expect(claims.Workspace).To(Equal(w.ws.Name))
	g.Expect(claims.Items).To(Equal(first.Spec.Items), "exactly the granted resources, fields and form")
	g.Expect(claims.Expiry.Time()).To(BeTemporally("==", first.Spec.Term.End.Time))
	g.Expect(claims.ID).To(Equal(first.Status.Credential.TokenID), "jti is the token ID in status")
	g.Expect(claims.ID).To(MatchRegexp("^[0-9a-f]{32}$"))

	// The key rotates (hourly in this suite): a new grant is signed by the new key, and the old
	// key stays published while the first grant lives.
	clock.Step(61 * time.Minute)
	second := w.grant("second")
	g.Expect(asReviewer.Create(ctx, second)).To(Succeed())
	g.Eventually(grantPhase(second), timeout, poll).Should(Equal(opv1.GrantActive))
	secondToken := tokenOf(t, w, second)
	g.Expect(second.Status.Credential.KeyID).NotTo(Equal(first.Status.Credential.KeyID))
	_, err = verify(w, firstToken)
	g.Expect(err).NotTo(HaveOccurred(), "rotation alone breaks no live grant")
	_, err = verify(w, secondToken)
	g.Expect(err).NotTo(HaveOccurred())

	// The first grant ends: its token is withdrawn and its key retired, so the token stops
	// verifying even where a copy survived; the second grant's still does.
	g.Expect(k8s.Delete(ctx, first)).To(Succeed())
	g.Eventually(func() error { _, err := verify(w, firstToken); return err }, timeout, poll).
		Should(MatchError(ContainSubstring("is not published")))
	_, err = verify(w, secondToken)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: w.wsNamespace(), Name: "opdomain-grant-first"}, &corev1.Secret{}))
	}, time.Second, 10*time.Millisecond).Should(BeTrue(), "the token Secret is gone")

	// The token's own exp stops it at the grant's end.
	clock.Step(second.Spec.Term.End.Sub(clock.Now()) + time.Second)
	_, err = verify(w, secondToken)
	g.Expect(err).To(MatchError(jwt.ErrExpired))
}

func TestR4_VolumeGrantRestoresAReadOnlyClaimAndRevocationLeavesTheSourceUntouched(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "gvol", opv1.NetworkPolicyKubernetes)
	zone := w.domain.Spec.DataZoneNamespace
	// The source, as a CSI driver would have left it: a content holding the storage's snapshot
	// handle, and the data zone's VolumeSnapshot bound to it.
	sourceContent := &snapshotv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: "gvol-census-content"},
		Spec: snapshotv1.VolumeSnapshotContentSpec{
			DeletionPolicy: snapshotv1.VolumeSnapshotContentRetain, Driver: "csi.example.org",
			Source:            snapshotv1.VolumeSnapshotContentSource{SnapshotHandle: ptr.To("snap-census-2020")},
			VolumeSnapshotRef: corev1.ObjectReference{Namespace: zone, Name: "census"},
		},
	}
	sourceSnapshot := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "census", Namespace: zone},
		Spec:       snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{VolumeSnapshotContentName: ptr.To(sourceContent.Name)}},
	}
	g.Expect(k8s.Create(ctx, sourceContent)).To(Succeed())
	g.Expect(k8s.Create(ctx, sourceSnapshot)).To(Succeed())
	census := dataResource(w.domain, "census", 2, opv1.DataSource{VolumeSnapshot: &opv1.VolumeSnapshotSource{Name: "census"}})
	g.Expect(k8s.Create(ctx, census)).To(Succeed())
	g.Eventually(offerable(census), timeout, poll).Should(HavePrefix("True/"))
	setScope(t, w.operator, "census")
	setScope(t, w.developer, "census")

	gr := w.grant("census-sample", func(s *opv1.DataGrantSpec) {
		s.Items = []opv1.GrantItem{{Resource: "census", Fields: []string{"road_id"}, Form: opv1.FormSample}}
	})
	g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))

	name := "opdomain-grant-census-sample-0"
	var claim corev1.PersistentVolumeClaim
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.wsNamespace(), Name: name}, &claim)).To(Succeed())
	g.Expect(claim.Spec.AccessModes).To(Equal([]corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany}))
	g.Expect(claim.Spec.DataSource).To(Equal(&corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: name}))
	var copied snapshotv1.VolumeSnapshot
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.wsNamespace(), Name: name}, &copied)).To(Succeed())
	var copiedContent snapshotv1.VolumeSnapshotContent
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: *copied.Spec.Source.VolumeSnapshotContentName}, &copiedContent)).To(Succeed())
	g.Expect(copiedContent.Spec.DeletionPolicy).To(Equal(snapshotv1.VolumeSnapshotContentRetain), "deleting the copy never deletes the storage's snapshot")
	g.Expect(copiedContent.Spec.Source.SnapshotHandle).To(Equal(ptr.To("snap-census-2020")))
	g.Expect(copiedContent.Spec.VolumeSnapshotRef).To(And(HaveField("Namespace", w.wsNamespace()), HaveField("Name", name)))
	g.Expect(gr.Status.Opened).To(ContainElements(
		HaveField("Kind", "VolumeSnapshotContent"), HaveField("Kind", "VolumeSnapshot"), HaveField("Kind", "PersistentVolumeClaim")))

	// Revoked by its reviewer: the workspace's copies go, the source stays exactly as it was.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gr), gr)).To(Succeed())
	patch := client.MergeFrom(gr.DeepCopy())
	gr.Spec.Review.Decision = opv1.ReviewRejected
	gr.Spec.Review.Comment = "purpose no longer holds"
	g.Expect(asReviewer.Patch(ctx, gr, patch)).To(Succeed())
	g.Eventually(grantPhase(gr), time.Second, 10*time.Millisecond).Should(Equal(opv1.GrantRevoked))
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(&claim), &corev1.PersistentVolumeClaim{})) &&
			apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(&copied), &snapshotv1.VolumeSnapshot{})) &&
			apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(&copiedContent), &snapshotv1.VolumeSnapshotContent{}))
	}, timeout, poll).Should(BeTrue(), "the workspace's claim, snapshot and content copy are gone")
	for _, src := range []client.Object{sourceSnapshot.DeepCopy(), sourceContent.DeepCopy()} {
		before := src.GetResourceVersion()
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(src), src)).To(Succeed())
		g.Expect(src.GetResourceVersion()).To(Equal(before), "%s untouched", src.GetName())
		g.Expect(src.GetDeletionTimestamp()).To(BeNil())
	}
}

// YC plan 五(三)2: model work happens on samples, so members read pod logs only while every
// grant of the workspace is Sample or Desensitized; a Raw grant takes the right away before
// its data flows, and for good (R1: the workspace is sealed).
func TestR4_PodLogsOnlyWhileEveryGrantIsSampled(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "glog", opv1.NetworkPolicyKubernetes)
	token, _ := memberToken(t, w.world)
	user := review(t, token)
	g.Expect(user).NotTo(BeNil())
	readsLogs := func() bool { return can(t, *user, w.wsNamespace(), "get", "", "pods", "log") }
	g.Expect(readsLogs()).To(BeFalse(), "no data yet, no logs")

	sampled := w.grant("sampled", func(s *opv1.DataGrantSpec) { s.Items[0].Form = opv1.FormSample })
	g.Expect(asReviewer.Create(ctx, sampled)).To(Succeed())
	g.Eventually(grantPhase(sampled), timeout, poll).Should(Equal(opv1.GrantActive))
	g.Eventually(readsLogs, timeout, poll).Should(BeTrue())
	g.Eventually(conditionText(w.ws, opv1.ConditionLogsReadable), timeout, poll).Should(HavePrefix("True/" + opv1.ReasonSampledData))

	raw := w.grant("raw")
	g.Expect(asReviewer.Create(ctx, raw)).To(Succeed())
	g.Eventually(grantPhase(raw), timeout, poll).Should(Equal(opv1.GrantActive))
	g.Expect(readsLogs()).To(BeFalse(), "the log right was gone before the Raw path opened")
	g.Expect(conditionText(w.ws, opv1.ConditionLogsReadable)()).To(And(HavePrefix("False/"+opv1.ReasonRawData), ContainSubstring("grant raw")))

	// Copies of Raw data may sit on the workspace's volumes: the workspace stays sealed.
	g.Expect(k8s.Delete(ctx, raw)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(raw), raw)) }, timeout, poll).Should(BeTrue())
	g.Consistently(readsLogs, 2*time.Second, 200*time.Millisecond).Should(BeFalse(), "with the Raw grant gone, logs stay withheld")
	g.Expect(conditionText(w.ws, opv1.ConditionLogsReadable)()).To(HavePrefix("False/" + opv1.ReasonRawData))
}

// R6: an agreement's ending revokes its grants, and its record names each with how it ended.
func TestR6_AgreementRecordListsItsRevokedGrants(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "grec", opv1.NetworkPolicyKubernetes)
	gr := w.grant("congestion")
	g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))

	terminate(t, w.developer, opv1.EndBreach)
	g.Eventually(grantPhase(gr), time.Second, 10*time.Millisecond).Should(Equal(opv1.GrantRevoked))
	g.Eventually(grantObjects(gr), time.Second, 10*time.Millisecond).Should(BeEmpty())
	g.Eventually(func() string {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.developer), w.developer)
		return w.developer.Status.TeardownRecord
	}, timeout, poll).ShouldNot(BeEmpty())
	var rec opv1.TeardownRecord
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: w.developer.Status.TeardownRecord}, &rec)).To(Succeed())
	g.Expect(rec.Spec.Steps[0].Name).To(Equal("grants"))
	g.Expect(rec.Spec.Steps[0].Objects).To(ConsistOf(And(
		HaveField("Kind", "DataGrant"), HaveField("Name", "congestion"), HaveField("UID", string(gr.UID)),
		HaveField("Detail", And(HavePrefix("Revoked ("+opv1.ReasonAgreementEnded+")"), ContainSubstring("Terminated"))))))
}

// R4: an operator's own grant is reviewed by the authority and by the provider of each of its
// resources (YN art. 20, HLJ art. 18, NJ 7), each the authenticated caller holding that party's
// own right, two different persons; the operator entity's own reviewer cannot approve it, and it
// stays inert until both have. A developer's grant takes no provider review (JS art. 17).
func TestR4_AnOperatorsOwnGrantIsReviewedByTheAuthorityAndTheProvider(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "opgr", opv1.NetworkPolicyKubernetes)
	const wang, authority, transport = "wang@operator.example", "li@bureau.example", "zhou@transport.example"
	lab := &opv1.DeveloperWorkspace{
		ObjectMeta: metav1.ObjectMeta{Name: "operator-lab", Namespace: w.control()},
		Spec:       opv1.DeveloperWorkspaceSpec{Authorization: w.operator.Name, Members: []string{wang}},
	}
	g.Expect(k8s.Create(ctx, lab)).To(Succeed())
	waitReady(t, lab)
	own := w.grant("own", func(s *opv1.DataGrantSpec) {
		s.Authorization, s.Workspace, s.RequestedBy, s.Review = w.operator.Name, lab.Name, wang, nil
		s.Items[0].Form = opv1.FormDesensitized
	})
	g.Expect(k8s.Create(ctx, own)).To(Succeed())

	editGrants := rbacv1.PolicyRule{APIGroups: []string{opv1.GroupVersion.Group}, Resources: []string{"datagrants"}, Verbs: []string{"get", "update", "patch"}}
	g.Expect(k8s.Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "opgr-authority"},
		Rules: []rbacv1.PolicyRule{editGrants,
			{APIGroups: []string{opv1.GroupVersion.Group}, Resources: []string{"operationdomains"}, ResourceNames: []string{w.domain.Name}, Verbs: []string{"review"}}},
	})).To(Succeed())
	g.Expect(k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "opgr-authority"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "opgr-authority"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: authority}},
	})).To(Succeed())
	g.Expect(k8s.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "transport-provider", Namespace: w.control()},
		Rules: []rbacv1.PolicyRule{editGrants,
			{APIGroups: []string{opv1.GroupVersion.Group}, Resources: []string{"dataresources"}, ResourceNames: []string{"traffic-flow"}, Verbs: []string{"review"}}},
	})).To(Succeed())
	for _, user := range []string{transport, authority} {
		g.Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "provider-" + strings.Split(user, "@")[0], Namespace: w.control()},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "transport-provider"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		})).To(Succeed())
	}
	asAuthority, err := impersonating(authority)
	g.Expect(err).NotTo(HaveOccurred())
	asTransport, err := impersonating(transport)
	g.Expect(err).NotTo(HaveOccurred())
	review := func(c client.Client, change func(*opv1.DataGrantSpec)) error {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(own), own)).To(Succeed())
		patch := client.MergeFrom(own.DeepCopy())
		change(&own.Spec)
		return c.Patch(ctx, own, patch)
	}
	approval := func(who string) opv1.Review { return opv1.Review{Reviewer: who, Decision: opv1.ReviewApproved} }
	byProvider := func(provider, who string) func(*opv1.DataGrantSpec) {
		return func(s *opv1.DataGrantSpec) {
			s.ProviderReviews = []opv1.ProviderReview{{Provider: provider, Review: approval(who)}}
		}
	}

	// The operator entity's reviewer holds the right on grants, not the authority's.
	g.Expect(review(asReviewer, func(s *opv1.DataGrantSpec) { s.Review = ptr.To(approval(reviewer)) })).
		To(MatchError(ContainSubstring("does not hold the reviewer right: verb review on operationdomains/opgr, the authority's")))
	g.Expect(review(asAuthority, func(s *opv1.DataGrantSpec) { s.Review = ptr.To(approval(authority)) })).To(Succeed())
	g.Eventually(conditionText(own, opv1.ConditionReady), timeout, poll).
		Should(ContainSubstring("inert until the providers Provincial Transport Department approve too"))
	g.Expect(own.Status.Phase).To(Equal(opv1.GrantPending))

	// The provider's review: by a holder of the right on the resource, not the authority's
	// reviewer, for a provider of the grant's resources.
	g.Expect(review(asReviewer, byProvider("Provincial Transport Department", reviewer))).
		To(MatchError(ContainSubstring("does not hold the reviewer right: verb review on dataresources traffic-flow, the provider's")))
	g.Expect(review(asAuthority, byProvider("Provincial Transport Department", authority))).
		To(MatchError(ContainSubstring("reviewed the grant for the authority")))
	g.Expect(review(asTransport, byProvider("Provincial Weather Bureau", transport))).
		To(MatchError(ContainSubstring(`"Provincial Weather Bureau" provides none of the grant's resources`)))
	g.Expect(grantPhase(own)()).To(Equal(opv1.GrantPending), "nothing was half-applied")
	g.Expect(review(asTransport, byProvider("Provincial Transport Department", transport))).To(Succeed())
	g.Eventually(grantPhase(own), timeout, poll).Should(Equal(opv1.GrantActive))

	// A developer's grant is the operator entity's to review alone.
	rejectedAs(t, asReviewer, w.grant("dev-with-provider", func(s *opv1.DataGrantSpec) {
		s.ProviderReviews = []opv1.ProviderReview{{Provider: "Provincial Transport Department", Review: approval(transport)}}
	}), "spec.providerReviews[0]", "reviewed by the operator entity alone")
}
