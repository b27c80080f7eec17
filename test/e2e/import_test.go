package e2e

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/names"
)

// importStatus describes the import as last read, when a wait fails.
func importStatus(m *opv1.DataImport) func() string {
	return func() string { return fmt.Sprintf("%+v", m.Status) }
}

func importPhase(t testing.TB, m *opv1.DataImport) func() opv1.ImportPhase {
	return func() opv1.ImportPhase {
		NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
		return m.Status.Phase
	}
}

// R4, R6: outside data comes in through the airlock on the node. The operator's staff put two
// tables in the domain's inbox. The operator's pods seal each and check it: the table with a
// resident ID number, declaring no personal information, is returned naming the check; the
// other waits for the operator's review under the digest of exactly its bytes, is approved by
// the reviewer, and is delivered onto a claim in the workspace, listed in the workspace's import
// catalog. A workspace pod reads it there, mounted read-only; a pod that would mount it writable
// is refused. When the agreement ends the import is removed: its bytes are gone from the node's
// disk, and the chain records the import and the removal and verifies.
func TestR4_R6_AnImportIsSealedCheckedReviewedAndDeliveredReadOnly(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "imp1", "team-a")
	inbox := names.Inbox(w.domain.Name)
	const roads = "road,hour,vehicles\nG42,08,1200\nS38,08,640\n"
	const people = "name,id\nZhang San,110101199003074514\n"
	uploads := filesOn(t, inbox, "uploads", map[string]string{"roads.csv": roads, "people.csv": people})
	asked := func(name, path string) *opv1.DataImport {
		m := &opv1.DataImport{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.domain.Spec.ControlNamespace},
			Spec: opv1.DataImportSpec{Authorization: w.developer.Name, Workspace: "team-a", SubmittedBy: "lisi@acme.example",
				Source: "Provincial Weather Service, open data licence", Artifact: opv1.ProductArtifact{PersistentVolumeClaim: uploads.Name, Path: path}},
		}
		g.Expect(k8s.Create(ctx, m)).To(Succeed())
		return m
	}

	returned := asked("people", "/people.csv")
	g.Eventually(importPhase(t, returned), 2*timeout, poll).Should(Equal(opv1.ImportReturned), importStatus(returned))
	g.Expect(returned.Status.Sealed.SHA256).To(Equal(sha(people)))
	g.Expect(returned.Status.Checks.Findings).To(ContainElement(HaveField("Check", "Identifiers")))

	roadsImport := asked("roads", "/roads.csv")
	g.Eventually(importPhase(t, roadsImport), 2*timeout, poll).Should(Equal(opv1.ImportInReview), importStatus(roadsImport))
	g.Expect(roadsImport.Status.Sealed.SHA256).To(Equal(sha(roads)))
	review := asReviewer(t)
	patch := client.MergeFrom(roadsImport.DeepCopy())
	roadsImport.Spec.Reviews = append(roadsImport.Spec.Reviews, opv1.ImportReview{Reviewer: reviewer, SHA256: roadsImport.Status.Sealed.SHA256,
		Decision: opv1.DecisionApproved, Time: metav1.Now(), Comment: "open data, no personal information"})
	g.Expect(review.Patch(ctx, roadsImport, patch)).To(Succeed())
	g.Eventually(importPhase(t, roadsImport), 2*timeout, poll).Should(Equal(opv1.ImportDelivered), importStatus(roadsImport))
	delivered := roadsImport.Status.Delivered
	g.Expect(delivered.SHA256).To(Equal(sha(roads)), "digested again where it was delivered")
	ws := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Namespace: w.domain.Spec.ControlNamespace}}
	g.Eventually(func() []opv1.ImportedData {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ws), ws)).To(Succeed())
		return ws.Status.Imports
	}, timeout, poll).Should(ConsistOf(opv1.ImportedData{Name: "roads", Claim: delivered.Claim, SHA256: sha(roads), Source: roadsImport.Spec.Source}))

	ns := w.workspaces["team-a"]
	reader := onClaim(ns, "reader", delivered.Claim, true, "read", "/data/artifact")
	g.Eventually(func() error { return k8s.Create(ctx, reader) }, timeout, poll).Should(Succeed())
	g.Eventually(func() string {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(reader), reader)).To(Succeed())
		for _, c := range reader.Status.ContainerStatuses {
			if c.State.Terminated != nil {
				return c.State.Terminated.Message
			}
		}
		return ""
	}, timeout, poll).Should(Equal(roads), "a workspace pod reads the import, mounted read-only")
	err := k8s.Create(ctx, onClaim(ns, "writer", delivered.Claim, false, "write", "/data/artifact", "changed"))
	g.Expect(err).To(MatchError(ContainSubstring("readOnly: true")), "a writable mount of an import is refused")

	var pv corev1.PersistentVolume
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: roadsImport.Status.Custody.Volume}, &pv)).To(Succeed())
	g.Expect(pv.Spec.ClaimRef.Namespace).To(Equal(ns))
	agreement := w.developer.DeepCopy()
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(agreement), agreement)).To(Succeed())
	end := client.MergeFrom(agreement.DeepCopy())
	agreement.Spec.Termination = &opv1.Termination{Reason: opv1.EndVoluntaryRequest}
	g.Expect(k8s.Patch(ctx, agreement, end)).To(Succeed())
	g.Eventually(func() string {
		importPhase(t, roadsImport)()
		if roadsImport.Status.Ended == nil {
			return ""
		}
		return roadsImport.Status.Ended.Record
	}, 2*timeout, poll).ShouldNot(BeEmpty(), importStatus(roadsImport))
	g.Expect(roadsImport.Status.Phase).To(Equal(opv1.ImportRemoved))
	gone(t, pv.Name, pv.Spec.HostPath.Path)

	var records opv1.TeardownRecordList
	g.Expect(k8s.List(ctx, &records, client.InNamespace(roadsImport.Namespace), client.MatchingLabels{opv1.LabelSubjectUID: string(roadsImport.UID)})).To(Succeed())
	events := map[string]*opv1.ProductEvidence{}
	for _, r := range records.Items {
		events[r.Spec.Event] = r.Spec.Product
	}
	g.Expect(events).To(HaveKey("Imported"))
	g.Expect(events).To(HaveKey("Removed"))
	g.Expect(events["Imported"].SHA256).To(Equal(sha(roads)))
	g.Expect(events["Imported"].ImportReviews).To(HaveLen(1))
	g.Eventually(func() ([]string, error) {
		problems, _, err := evidence.VerifyDomain(ctx, k8s, w.domain.Name)
		return problems, err
	}, timeout, poll).Should(BeEmpty(), "the chain verifies")
}
