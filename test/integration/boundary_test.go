package integration

import (
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/test/controlplane"
)

// refusedBeside creates bad and expects a 422 naming every part, with nothing stored; then it
// creates good, the same object without the one thing the rule refuses, and expects it admitted,
// so the refusal can only have come from that rule.
func refusedBeside(t *testing.T, c client.Client, bad, good client.Object, parts ...string) {
	t.Helper()
	g := NewWithT(t)
	err := c.Create(ctx, bad)
	g.Expect(err).To(HaveOccurred(), "%T %s was admitted", bad, bad.GetName())
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), err.Error())
	for _, p := range parts {
		g.Expect(err.Error()).To(ContainSubstring(p))
	}
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(bad), bad))).To(BeTrue(), "nothing stored")
	g.Expect(c.Create(ctx, good)).To(Succeed(), "the control object")
}

func execAction() *corev1.ExecAction {
	return &corev1.ExecAction{Command: []string{"cat", "/data/secret.csv"}}
}

// Every exit the node opens on a pod's behalf, and every way a workload's output reaches a
// member's kubectl, is refused at admission for every identity, a cluster admin included, in
// workspaces and in the data zone (R1, R4).
func TestR1_R4_AdmissionRefusesWhatTheNodeWouldFetchOrExposeForAPod(t *testing.T) {
	w := newWorld(t, "bnd1", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	httpProbe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}}
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		parts  []string
	}{
		{"nodeName", func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }, []string{"spec.nodeName", "opdomain R1"}},
		{"csi volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "s3.csi.example"}}}}
		}, []string{"spec.volumes[]", "csi", "opdomain R1, R4"}},
		{"image volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "registry.example/data:1"}}}}
		}, []string{"spec.volumes[]", "image", "opdomain R1, R4"}},
		{"ephemeral volume copying a claim", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
				VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
					DataSource:  &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "granted"},
				}},
			}}}}
		}, []string{"spec.volumes[].ephemeral.volumeClaimTemplate.spec.dataSource", "opdomain R4"}},
		{"ServiceAccount token mounted by the API server", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(true) },
			[]string{"serviceAccountToken", "automountServiceAccountToken: false", "opdomain R1"}},
		{"ServiceAccount token projected by hand", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "data.example"}}},
			}}}}
		}, []string{"spec.volumes[].projected.sources[].serviceAccountToken", "opdomain R1"}},
		{"short image name", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "busybox" },
			[]string{"spec.containers[].image: busybox is not from a registry in spec.images.allowedRegistries of OperationDomain bnd1", "opdomain R4"}},
		{"registry that only starts alike", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.example.evil.org/x:1" },
			[]string{"registry.example.evil.org/x:1 is not from a registry", "opdomain R4"}},
		{"init container image", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{restrictedPod("", "").Spec.Containers[0]}
			p.Spec.InitContainers[0].Name, p.Spec.InitContainers[0].Image = "fetch", "evil.example/fetch:1"
		}, []string{"evil.example/fetch:1 is not from a registry"}},
		{"exec readiness probe", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: execAction()}}
		}, []string{"readinessProbe.exec", "Events that members read", "opdomain R1"}},
		{"exec preStop hook", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: execAction()}}
		}, []string{"lifecycle.*.exec", "opdomain R1"}},
		{"exec startup probe in a sidecar", func(p *corev1.Pod) {
			sidecar := restrictedPod("", "").Spec.Containers[0]
			sidecar.Name, sidecar.RestartPolicy = "sidecar", ptr.To(corev1.ContainerRestartPolicyAlways)
			sidecar.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: execAction()}}
			p.Spec.InitContainers = []corev1.Container{sidecar}
		}, []string{"startupProbe.exec", "opdomain R1"}},
		{"log tail in status", func(p *corev1.Pod) {
			p.Spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
		}, []string{"spec.containers[].terminationMessagePolicy", "FallbackToLogsOnError", "opdomain R1"}},
	}
	for _, ns := range []string{w.wsNamespace(), w.domain.Spec.DataZoneNamespace} {
		for i, tc := range cases {
			t.Run(ns+"/"+tc.name, func(t *testing.T) {
				// Small, so that every control pod fits the workspace quota.
				small := corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}
				bad := restrictedPod(ns, "bad-"+string(rune('a'+i)))
				bad.Spec.Containers[0].Resources = small
				tc.mutate(bad)
				good := restrictedPod(ns, "good-"+string(rune('a'+i)))
				good.Spec.Containers[0].Resources = small
				// Probes of the kinds that stay allowed, so the control pod differs from the bad
				// one in the refused field alone.
				good.Spec.Containers[0].ReadinessProbe = httpProbe
				refusedBeside(t, k8s, bad, good, tc.parts...)
			})
		}
	}
}

func TestR4_DomainRegistriesAndDigestsAreTheDomainsCurrentSetting(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "bnd2", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	ns := w.wsNamespace()
	digest := "registry.example/train@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)).To(Succeed())
	patch := client.MergeFrom(w.domain.DeepCopy())
	w.domain.Spec.Images.RequireDigest = true
	g.Expect(k8s.Patch(ctx, w.domain, patch)).To(Succeed())

	tagged := restrictedPod(ns, "tagged")
	pinned := restrictedPod(ns, "pinned")
	pinned.Spec.Containers[0].Image = digest
	g.Eventually(func() error { return k8s.Create(ctx, tagged.DeepCopy(), client.DryRunAll) }, timeout, poll).Should(
		MatchError(ContainSubstring("registry.example/train:1 is not from a registry in spec.images.allowedRegistries of OperationDomain bnd2 or is not pinned by a sha256 digest")),
		"the policy reads the domain itself: no copy lags behind")
	refusedBeside(t, k8s, tagged, pinned)

	// A running pod may keep its image after the list changed; it may not switch to a new one.
	patch = client.MergeFrom(pinned.DeepCopy())
	pinned.Spec.Containers[0].Image = "evil.example/train@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	err := k8s.Patch(ctx, pinned, patch)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("evil.example/train@sha256"))

	// Nor can a debugging container bring one in through pods/ephemeralcontainers.
	debug := func(image string) error {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pinned), pinned)).To(Succeed())
		pinned.Spec.EphemeralContainers = append(pinned.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug-" + strconv.Itoa(len(pinned.Spec.EphemeralContainers)), Image: image,
			SecurityContext: restrictedPod("", "").Spec.Containers[0].SecurityContext,
		}})
		return k8s.SubResource("ephemeralcontainers").Update(ctx, pinned)
	}
	err = debug("evil.example/shell@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("evil.example/shell@sha256"), ContainSubstring("opdomain R4")))
	g.Expect(debug(digest)).To(Succeed(), "the control: a reviewed image is admitted the same way")

	// A domain that lists no registry admits no image at all: fail closed.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)).To(Succeed())
	patch = client.MergeFrom(w.domain.DeepCopy())
	w.domain.Spec.Images = opv1.ImagePolicy{}
	g.Expect(k8s.Patch(ctx, w.domain, patch)).To(Succeed())
	again := restrictedPod(ns, "again")
	again.Spec.Containers[0].Image = digest
	g.Eventually(func() error { return k8s.Create(ctx, again.DeepCopy(), client.DryRunAll) }, timeout, poll).Should(MatchError(ContainSubstring("is not from a registry")))

	// A malformed registry is refused by the schema, naming the field.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)).To(Succeed())
	patch = client.MergeFrom(w.domain.DeepCopy())
	w.domain.Spec.Images.AllowedRegistries = []string{"registry.example/"}
	err = k8s.Patch(ctx, w.domain, patch)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.images.allowedRegistries[0]"))
}

func TestR1_R4_ServicesAndClaimsCannotReachOutsideTheGrants(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "bnd3", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	ns := w.wsNamespace()
	service := func(name string, externalIPs ...string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}, ExternalIPs: externalIPs}}
	}
	refusedBeside(t, k8s, service("hijack", "203.0.113.7"), service("inside"), "spec.externalIPs", "CVE-2020-8554", "opdomain R1")
	// Nor can an admitted Service gain them later.
	inside := service("inside")
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(inside), inside)).To(Succeed())
	patch := client.MergeFrom(inside.DeepCopy())
	inside.Spec.ExternalIPs = []string{"203.0.113.7"}
	g.Expect(k8s.Patch(ctx, inside, patch)).To(MatchError(ContainSubstring("spec.externalIPs")))

	claim := func(name string, mutate func(*corev1.PersistentVolumeClaimSpec)) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			}}
		if mutate != nil {
			mutate(&c.Spec)
		}
		return c
	}
	for i, mutate := range []func(*corev1.PersistentVolumeClaimSpec){
		func(s *corev1.PersistentVolumeClaimSpec) {
			s.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "granted"}
		},
		func(s *corev1.PersistentVolumeClaimSpec) {
			s.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "census"}
		},
		func(s *corev1.PersistentVolumeClaimSpec) { s.VolumeName = "bnd3-data-census" },
	} {
		refusedBeside(t, k8s, claim("copy", mutate), claim("plain-"+string(rune('a'+i)), nil),
			"spec.dataSource, spec.dataSourceRef, spec.volumeName", "only through a DataGrant", "opdomain R4")
	}
	// Nor may anyone but the volume binder bind an admitted claim to a volume of its choosing.
	plain := claim("plain-a", nil)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(plain), plain)).To(Succeed())
	patch = client.MergeFrom(plain.DeepCopy())
	plain.Spec.VolumeName = "bnd3-data-census"
	err := k8s.Patch(ctx, plain, patch)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("only the cluster's volume binder binds a claim"))
}

// The workspace's own `default` ServiceAccount mounts no token: pods that say nothing get
// none, and so are admitted (R1).
func TestR1_WorkspaceDefaultServiceAccountMountsNoToken(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "bnd4", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	for _, ns := range []string{w.wsNamespace(), w.domain.Spec.DataZoneNamespace, w.control()} {
		var sa corev1.ServiceAccount
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, &sa)).To(Succeed(), ns)
		g.Expect(sa.AutomountServiceAccountToken).To(HaveValue(BeFalse()), ns)
	}
	pod := restrictedPod(w.wsNamespace(), "quiet")
	g.Expect(memberClient(t, w).Create(ctx, pod)).To(Succeed())
	for _, v := range pod.Spec.Volumes {
		g.Expect(v.Projected).To(BeNil(), "no token volume was injected")
	}
}

// A member who names a volume of the data zone in a workspace claim cannot have the teardown
// destroy it: the teardown deletes only volumes bound to the workspace's own claims (R6, R4).
// The claim is made as the operator, whom admission trusts with volumeName, standing for any
// claim that got past admission.
func TestR6_TeardownLeavesAVolumeTheWorkspaceDoesNotOwn(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "bnd5", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	data := w.domain.Spec.DataZoneNamespace
	empty := ""
	spec := corev1.PersistentVolumeClaimSpec{
		AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		StorageClassName: &empty,
	}
	source := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "census", Namespace: data}, Spec: spec}
	g.Expect(k8s.Create(ctx, source)).To(Succeed())
	foreign := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "bnd5-census"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/census"}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: data, Name: source.Name, UID: source.UID},
		},
	}
	g.Expect(k8s.Create(ctx, foreign)).To(Succeed())
	g.Eventually(func() corev1.PersistentVolumeClaimPhase {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(source), source)).To(Succeed())
		return source.Status.Phase
	}, timeout, poll).Should(Equal(corev1.ClaimBound))

	cfg, err := cp.UserConfig(operatorUser)
	g.Expect(err).NotTo(HaveOccurred())
	asOperator, err := client.New(cfg, client.Options{Scheme: controllers.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())
	lure := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "lure", Namespace: w.wsNamespace()}, Spec: spec}
	lure.Spec.VolumeName = foreign.Name
	g.Expect(asOperator.Create(ctx, lure)).To(Succeed())
	_, own := newVolume(t, w, "results")

	g.Expect(k8s.Delete(ctx, w.ws)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)) }, 2*timeout, poll).
		Should(BeTrue(), "the teardown finishes")

	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(own), &corev1.PersistentVolume{}))).To(BeTrue(), "its own volume is destroyed")
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(foreign), foreign)).To(Succeed(), "the data zone's volume is still there")
	g.Expect(foreign.DeletionTimestamp).To(BeNil())
	g.Expect(foreign.Spec.PersistentVolumeReclaimPolicy).To(Equal(corev1.PersistentVolumeReclaimRetain), "and keeps its reclaim policy")
	g.Expect(foreign.Spec.ClaimRef.UID).To(Equal(source.UID), "still bound to the data zone's claim")

	var recs opv1.TeardownRecordList
	g.Expect(k8s.List(ctx, &recs, client.InNamespace(w.control()))).To(Succeed())
	recs.Items = teardowns(recs.Items)
	g.Expect(recs.Items).To(HaveLen(1))
	for _, st := range recs.Items[0].Spec.Steps {
		for _, o := range st.Objects {
			g.Expect(o.Name).NotTo(Equal(foreign.Name), "the record does not claim it was destroyed")
		}
	}
}

// A review is admitted only from the authenticated user it names, who holds the reviewer right;
// the two-person rule then compares identities, not typed names (R4).
func TestR4_ReviewerIsTheAuthenticatedCaller(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "bnd6", opv1.NetworkPolicyKubernetes)
	const chen = "chen@operator.example"
	approve := func(c client.Client, gr *opv1.DataGrant, as string) error {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gr), gr)).To(Succeed())
		patch := client.MergeFrom(gr.DeepCopy())
		gr.Spec.Review = &opv1.Review{Reviewer: as, Decision: opv1.ReviewApproved}
		return c.Patch(ctx, gr, patch)
	}
	bind := func(user, name string, roleRef rbacv1.RoleRef) {
		g.Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.control()},
			RoleRef:    roleRef,
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		})).To(Succeed())
	}

	// A cluster admin typing the reviewer's name is not the reviewer.
	pending := w.grant("pending", func(s *opv1.DataGrantSpec) { s.Review = nil })
	withReview := w.grant("pending")
	refusedBeside(t, k8s, withReview, pending, "spec.review.reviewer", reviewer+" is not the caller")
	g.Expect(approve(k8s, pending, reviewer)).To(MatchError(ContainSubstring(reviewer + " is not the caller")))

	// Someone who may edit grants but holds no reviewer right cannot review, not even in their
	// own name.
	g.Expect(k8s.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "grant-editor", Namespace: w.control()},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{opv1.GroupVersion.Group}, Resources: []string{"datagrants"}, Verbs: []string{"get", "update", "patch"}}},
	})).To(Succeed())
	bind(chen, "chen-edits", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "grant-editor"})
	asChen, err := impersonating(chen)
	g.Expect(err).NotTo(HaveOccurred())
	err = approve(asChen, pending, chen)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring(chen + " does not hold the reviewer right"))

	// Given the right in this domain's control namespace, chen reviews as chen, never as another.
	bind(chen, "chen-reviews", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: controlplane.ReviewerRole})
	g.Expect(approve(asChen, pending, reviewer)).To(MatchError(ContainSubstring(reviewer + " is not the caller (" + chen + ")")))
	g.Expect(grantPhase(pending)()).To(Equal(opv1.GrantPending), "nothing was half-applied")
	g.Expect(approve(asChen, pending, chen)).To(Succeed())
	g.Eventually(grantPhase(pending), timeout, poll).Should(Equal(opv1.GrantActive))

	// The requester holding the reviewer right still may not review their own request.
	bind(member, "member-reviews", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: controlplane.ReviewerRole})
	asMember, err := impersonating(member)
	g.Expect(err).NotTo(HaveOccurred())
	own := w.grant("own", func(s *opv1.DataGrantSpec) { s.Review = nil })
	g.Expect(k8s.Create(ctx, own)).To(Succeed())
	err = approve(asMember, own, member)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("requested the grant and may not review it"), Not(ContainSubstring("is not the caller"))))
}

// A workspace opens only while its domain proves, by a dry run, that the API server enforces the
// domain's admission policy; when the proof fails, access is cut, and it returns with the proof.
// The proof is broken here by a policy of the test's own that spoils the probe before the
// domain's policy sees it (R1: fail closed).
func TestR1_WorkspaceOpensOnlyWhileTheDomainProvesItsAdmissionPolicy(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "bnd7", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	token, _ := memberToken(t, w)
	user := review(t, token)
	g.Expect(user).NotTo(BeNil())
	g.Expect(can(t, *user, w.wsNamespace(), "create", "", "pods", "")).To(BeTrue())

	fail := admissionregistrationv1.Fail
	spoiler := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test-spoil-bnd7-probe"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"services"}},
				},
			}}},
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "probe", Expression: "object.metadata.name == 'opdomain-admission-probe'"}},
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: "[JSONPatch{op: 'replace', path: '/spec/ports/0/port', value: 0}]"},
			}},
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
	g.Expect(k8s.Create(ctx, spoiler)).To(Succeed())
	spoilerBinding := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: spoiler.Name},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName: spoiler.Name,
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: w.domain.Spec.DataZoneNamespace},
			}},
		},
	}
	g.Expect(k8s.Create(ctx, spoilerBinding)).To(Succeed())
	touched := 0
	g.Eventually(func() string {
		// Wake the domain until the API server has loaded the spoiler and the proof fails.
		touched++
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)).To(Succeed())
		patch := client.MergeFrom(w.domain.DeepCopy())
		metav1.SetMetaDataAnnotation(&w.domain.ObjectMeta, "test/touched", strconv.Itoa(touched))
		g.Expect(k8s.Patch(ctx, w.domain, patch)).To(Succeed())
		return conditionText(w.domain, opv1.ConditionAdmissionEnforced)()
	}, timeout, 250*time.Millisecond).Should(HavePrefix("False/"))
	g.Expect(readyStatus(w.domain)).To(Equal("False"))
	g.Eventually(conditionText(w.ws, opv1.ConditionAccessGranted), timeout, poll).Should(HavePrefix("False/" + opv1.ReasonAdmissionNotEnforced))
	g.Expect(can(t, *user, w.wsNamespace(), "create", "", "pods", "")).To(BeFalse(), "no one acts behind a fence not proven to stand")

	g.Expect(k8s.Delete(ctx, spoilerBinding)).To(Succeed())
	g.Expect(k8s.Delete(ctx, spoiler)).To(Succeed())
	g.Eventually(conditionText(w.domain, opv1.ConditionAdmissionEnforced), timeout, poll).Should(HavePrefix("True/"))
	g.Eventually(conditionText(w.ws, opv1.ConditionAccessGranted), timeout, poll).Should(HavePrefix("True/"))
	g.Eventually(func() bool { return can(t, *user, w.wsNamespace(), "create", "", "pods", "") }, timeout, poll).Should(BeTrue())
}
