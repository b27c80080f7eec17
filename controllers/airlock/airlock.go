// Package airlock moves artifacts across a domain's boundary for the reconcilers of the lawful
// exit (DataProduct, R5) and entrance (DataImport, R4): it seals an artifact out of the claim
// where it waits, onto a volume only the operator mounts; hands that volume to the airlock, where
// it is digested and checked; hands it on to where it is delivered, where it is digested again;
// and destroys it. The steps run in pods of the manager's own image (the `seal`, `inspect` and
// `verify` subcommands); every step is idempotent and resumes from what the custody on record
// says.
package airlock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/names"
)

// Airlock runs passages.
type Airlock struct {
	client.Client
	// APIReader reads the claims and volumes the airlock hands on, as stored.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Image is the manager's own image, which the pods run; empty runs nothing.
	Image string
}

// Passage is one revision of one artifact going through the airlock.
type Passage struct {
	// Owner is the DataProduct or DataImport, of kind Kind; its name labels and names every
	// claim and pod made for it.
	Owner    client.Object
	Kind     string
	Revision int64
	Domain   *opv1.OperationDomain
	// Custody is the owner's status.custody, which the steps fill in.
	Custody *opv1.ArtifactCustody
	// Source is the claim the artifact waits on, and Path the file in it.
	Source client.ObjectKey
	Path   string
	// Checks are the checks the inspection runs.
	Checks CheckSpec
	Now    time.Time
}

// Admitted is a passage's outcome in the airlock: the digest the airlock computed and the
// checks' report on those bytes.
type Admitted struct {
	Artifact opv1.SealedArtifact
	Checks   opv1.CheckReport
}

// bringIn brings the passage's artifact into the airlock: the seal pod copies it out of its source
// claim onto a new claim only the operator may mount, the volume is handed to the airlock, and
// the inspection digests and checks it there. It returns the outcome once the inspection agrees
// with the seal; nil while a step runs, or once the revision failed (Custody.Failure).
func (a *Airlock) bringIn(ctx context.Context, p *Passage) (*Admitted, error) {
	c := p.Custody
	switch {
	case c.Failure != "":
		return nil, nil
	case c.Copied == nil:
		return nil, a.copyOut(ctx, p)
	}
	if err := a.RemovePods(ctx, p, p.Source.Namespace); err != nil {
		return nil, err
	}
	moved, err := Custodian{Client: a.Client, APIReader: a.APIReader}.Move(ctx, c.Volume, p.AirlockClaim(), p.labels(""))
	if err != nil || !moved {
		return nil, err
	}
	return a.inspect(ctx, p)
}

// copyOut runs the seal pod beside the source claim.
func (a *Airlock) copyOut(ctx context.Context, p *Passage) error {
	c := p.Custody
	if p.Source.Namespace == "" {
		c.Failure = "claim " + p.Source.Name + " has no namespace to be sealed from: its workspace is gone or torn down"
		return nil
	}
	var source corev1.PersistentVolumeClaim
	switch err := a.APIReader.Get(ctx, p.Source, &source); {
	case apierrors.IsNotFound(err):
		c.Failure = fmt.Sprintf("no claim %s in namespace %s", p.Source.Name, p.Source.Namespace)
		return nil
	case err != nil:
		return err
	}
	staging := client.ObjectKey{Namespace: p.Source.Namespace, Name: SealClaimPrefix + names.Slug(p.base(), 63-len(SealClaimPrefix))}
	claim, err := getOrCreate(ctx, a.APIReader, a.Client, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: staging.Name, Namespace: staging.Namespace, Labels: p.labels("")},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: source.Spec.StorageClassName,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(p.MaxBytes(), resource.BinarySI)}},
		},
	})
	if err != nil {
		return err
	}
	if c.Volume == "" && claim.Spec.VolumeName != "" {
		// Written down before the volume is acted on, so that no restart loses it.
		var pv corev1.PersistentVolume
		if err := a.APIReader.Get(ctx, client.ObjectKey{Name: claim.Spec.VolumeName}, &pv); err != nil {
			return err
		}
		c.Volume, c.VolumeUID = pv.Name, string(pv.UID)
	}
	pod, err := getOrCreate(ctx, a.Client, a.Client, a.pod(p, podSpec{step: stepSeal, namespace: staging.Namespace, memory: resource.MustParse("64Mi"),
		args:   []string{"--from", sourceMount, "--path", p.Path, "--to", sealedMount + "/" + artifactFile, "--max-bytes", fmt.Sprint(p.MaxBytes())},
		claims: map[string]string{sourceMount: source.Name, sealedMount: staging.Name}, writable: sealedMount}))
	if err != nil {
		return err
	}
	var got struct {
		Sealed
		Error string `json:"error"`
	}
	done, err := result(pod, &got)
	switch {
	case !done:
	case err != nil:
		c.Failure = err.Error()
	case got.Error != "":
		c.Failure = "sealing " + p.Path + ": " + got.Error
	case c.Volume == "":
		return fmt.Errorf("claim %s holds the sealed copy but names no volume", staging)
	default:
		c.Copied = &opv1.SealedArtifact{Revision: p.Revision, SHA256: got.SHA256, Size: got.Size, At: metav1.NewTime(p.Now)}
	}
	return nil
}

// inspect runs the inspection in the airlock: the digest of what arrived must be what the seal
// copied, and the checks run on those bytes.
func (a *Airlock) inspect(ctx context.Context, p *Passage) (*Admitted, error) {
	c := p.Custody
	spec, err := p.Checks.encode()
	if err != nil {
		return nil, err
	}
	claim := p.AirlockClaim()
	pod, err := getOrCreate(ctx, a.Client, a.Client, a.pod(p, podSpec{step: stepInspect, namespace: claim.Namespace, memory: p.inspectMemory(),
		args:   []string{"--file", sealedMount + "/" + artifactFile, "--max-bytes", fmt.Sprint(p.MaxBytes()), "--checks", spec},
		claims: map[string]string{sealedMount: claim.Name}}))
	if err != nil {
		return nil, err
	}
	var got Inspection
	done, err := result(pod, &got)
	switch {
	case !done:
		return nil, nil
	case err != nil:
		c.Failure = err.Error()
	case got.Error != "":
		c.Failure = "inspecting the sealed copy: " + got.Error
	case got.SHA256 != c.Copied.SHA256 || got.Size != c.Copied.Size || got.Checks == nil:
		c.Failure = fmt.Sprintf("the airlock holds %d bytes of digest %s, the seal copied %d of digest %s: the copy changed on its way", got.Size, got.SHA256, c.Copied.Size, c.Copied.SHA256)
	default:
		a.Recorder.Eventf(p.Owner, nil, corev1.EventTypeNormal, "Sealed", "Seal", "revision %d sealed as %s (%d bytes); checks: %s", p.Revision, got.SHA256, got.Size, got.Checks.Outcome)
		return &Admitted{Artifact: opv1.SealedArtifact{Revision: p.Revision, SHA256: got.SHA256, Size: got.Size, At: metav1.NewTime(p.Now)}, Checks: *got.Checks}, nil
	}
	return nil, nil
}

// Deliver hands the sealed volume on from the airlock to the claim to and digests it there; it
// returns the digest found once the verification ran, and an error when it is not the sealed
// one (the verification pod is kept to look at).
func (a *Airlock) Deliver(ctx context.Context, p *Passage, to client.ObjectKey, sealed string) (digest string, err error) {
	if err := a.RemovePods(ctx, p, p.AirlockClaim().Namespace); err != nil {
		return "", err
	}
	moved, err := Custodian{Client: a.Client, APIReader: a.APIReader}.Move(ctx, p.Custody.Volume, to, p.labels(""))
	if err != nil || !moved {
		return "", err
	}
	pod, err := getOrCreate(ctx, a.Client, a.Client, a.pod(p, podSpec{step: stepVerify, namespace: to.Namespace, memory: resource.MustParse("64Mi"),
		args:   []string{"--file", sealedMount + "/" + artifactFile, "--max-bytes", fmt.Sprint(p.MaxBytes())},
		claims: map[string]string{sealedMount: to.Name}}))
	if err != nil {
		return "", err
	}
	var got Inspection
	done, err := result(pod, &got)
	if !done {
		return "", nil
	}
	if err == nil && got.SHA256 != sealed {
		err = fmt.Errorf("%s holds digest %s, the airlock sealed %s", to, got.SHA256, sealed)
	}
	return got.SHA256, err
}

// Location names a delivered copy: namespace, claim and file.
func Location(claim client.ObjectKey) string {
	return fmt.Sprintf("%s/%s:/%s", claim.Namespace, claim.Name, artifactFile)
}

// Destroy removes the passage's pods from the namespaces given and destroys its volume with its
// bytes, and says whether nothing is left.
func (a *Airlock) Destroy(ctx context.Context, p *Passage, namespaces ...string) (gone bool, err error) {
	c := p.Custody
	if c == nil || c.Destroyed {
		return true, nil
	}
	for _, ns := range namespaces {
		if err := a.RemovePods(ctx, p, ns); err != nil {
			return false, err
		}
	}
	if c.Volume == "" {
		// Never bound, or bound while no one looked: the seal's claim says which volume.
		if gone, err := a.deleteStagingClaims(ctx, p); err != nil || !gone {
			return false, err
		}
		c.Destroyed = true
		return true, nil
	}
	gone, err = Custodian{Client: a.Client, APIReader: a.APIReader}.Destroy(ctx, c.Volume, p.labels(""))
	if err != nil || !gone {
		return false, err
	}
	c.Destroyed = true
	a.Recorder.Eventf(p.Owner, nil, corev1.EventTypeNormal, "Destroyed", "Destroy", "volume %s of revision %d and its bytes are destroyed", c.Volume, c.Revision)
	return true, nil
}

// deleteStagingClaims deletes the seal's claims beside the source, and with them any volume
// they were given, and says whether they are gone.
func (a *Airlock) deleteStagingClaims(ctx context.Context, p *Passage) (bool, error) {
	if p.Source.Namespace == "" {
		return true, nil
	}
	var claims corev1.PersistentVolumeClaimList
	if err := a.APIReader.List(ctx, &claims, client.InNamespace(p.Source.Namespace), p.ownedBy()); err != nil {
		return false, err
	}
	for i := range claims.Items {
		if err := apply.Delete(ctx, a.Client, &claims.Items[i]); err != nil {
			return false, err
		}
	}
	return len(claims.Items) == 0, nil
}

// Record appends one of the passage's terminal events to the domain's evidence chain, naming
// its volume; the record is written once per event.
func (a *Airlock) Record(ctx context.Context, p *Passage, spec opv1.TeardownRecordSpec, location string) (string, error) {
	spec.Subject = opv1.ObjectRecord{Kind: p.Kind, Namespace: p.Owner.GetNamespace(), Name: p.Owner.GetName(), UID: string(p.Owner.GetUID())}
	spec.EndedBy = "opdomain operator"
	spec.StartedAt = p.Owner.GetCreationTimestamp()
	spec.CompletedAt = metav1.NewTime(p.Now)
	spec.Reason = truncate(spec.Reason, 1024)
	if c := p.Custody; c != nil && c.Volume != "" {
		detail := "holds the sealed copy"
		switch {
		case c.Destroyed:
			detail = "destroyed with its bytes"
		case location != "":
			detail = "holds the delivered copy at " + location
		}
		spec.Steps = []opv1.TeardownStep{{Name: "volume", CompletedAt: &spec.CompletedAt,
			Objects: []opv1.ObjectRecord{{Kind: "PersistentVolume", Name: c.Volume, UID: c.VolumeUID, Detail: detail}}}}
	}
	name, err := evidence.Append(ctx, a.Client, a.APIReader, p.Domain, spec, p.labels(""))
	if err != nil {
		return "", fmt.Errorf("recording the %s event: %w", spec.Event, err)
	}
	return name, nil
}

// truncate cuts s to at most n bytes, never inside a character (a reason is often Chinese).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RemovePods deletes the passage's pods in a namespace: a claim is released only once no pod
// uses it. A step's pod is removed by the step after it, once its result is on record and seen:
// a reconcile that read its owner from a cache not yet showing the result finds the pod and
// reads the same result again, instead of running the step a second time.
func (a *Airlock) RemovePods(ctx context.Context, p *Passage, namespace string) error {
	if namespace == "" {
		return nil
	}
	return client.IgnoreNotFound(a.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(namespace), p.ownedBy()))
}

// MaxBytes is the largest artifact the domain's airlock takes.
func (p *Passage) MaxBytes() int64 {
	if q := p.Domain.Spec.Products.MaxArtifactSize; q != nil && q.Value() > 0 {
		return q.Value()
	}
	return 1 << 30
}

// inspectMemory holds the artifact the checks read, twice over, and the checker itself.
func (p *Passage) inspectMemory() resource.Quantity {
	return *resource.NewQuantity(2*p.MaxBytes()+128<<20, resource.BinarySI)
}

// base names what is made for this revision: kind, owner and revision.
func (p *Passage) base() string {
	return fmt.Sprintf("%s-%s-r%d", strings.TrimPrefix(strings.ToLower(p.Kind), "data"), p.Owner.GetName(), p.Revision)
}

// AirlockClaim is the claim that holds the revision's volume in the airlock.
func (p *Passage) AirlockClaim() client.ObjectKey {
	return client.ObjectKey{Namespace: names.Airlock(p.Domain.Name), Name: names.Slug(p.base(), 63)}
}

// Claim is the claim named for this revision in namespace, where it is delivered.
func (p *Passage) Claim(namespace, prefix string) client.ObjectKey {
	return client.ObjectKey{Namespace: namespace, Name: prefix + names.Slug(p.Owner.GetName()+fmt.Sprintf("-r%d", p.Revision), 63-len(prefix))}
}

func (p *Passage) labels(step string) map[string]string {
	l := map[string]string{
		opv1.LabelDomain:         p.Domain.Name,
		opv1.LabelOwnerKind:      p.Kind,
		opv1.LabelOwnerName:      p.Owner.GetName(),
		opv1.LabelOwnerNamespace: p.Owner.GetNamespace(),
	}
	if step != "" {
		l[opv1.LabelComponent] = "airlock-" + step
	}
	return l
}

func (p *Passage) ownedBy() client.MatchingLabels {
	return client.MatchingLabels{opv1.LabelOwnerKind: p.Kind, opv1.LabelOwnerName: p.Owner.GetName(), opv1.LabelOwnerNamespace: p.Owner.GetNamespace()}
}

// Admit is an owner's sealing step: it brings the passage's revision into the airlock and
// writes what the airlock found into st. A new revision first destroys the volume of the one
// before, its pods looked for in namespaces. It returns what the artifact waits for that is out
// of the operator's hands, if anything.
func (a *Airlock) Admit(ctx context.Context, p *Passage, st *opv1.ArtifactStatus, namespaces ...string) (waiting string, err error) {
	if a.Image == "" {
		return "the operator runs no airlock image (--airlock-image), so nothing is sealed", nil
	}
	if c := st.Custody; c != nil && c.Revision != p.Revision {
		p.Custody = c
		if gone, err := a.Destroy(ctx, p, namespaces...); err != nil || !gone {
			return "", err
		}
		st.Custody = nil
	}
	if st.Custody == nil {
		st.Custody = &opv1.ArtifactCustody{Revision: p.Revision}
		st.Sealed, st.Checks = nil, nil
	}
	p.Custody = st.Custody
	admitted, err := a.bringIn(ctx, p)
	if admitted != nil {
		st.Sealed, st.Checks = &admitted.Artifact, &admitted.Checks
	}
	return "", err
}

// End ends an owner for good with event: its tombstone in st (what, when, why), its volume
// destroyed wherever it is (its pods looked for in namespaces), then the record of the event,
// whose name the tombstone keeps. It is done once st.Ended.Record is set.
func (a *Airlock) End(ctx context.Context, p *Passage, st *opv1.ArtifactStatus, event, reason, message string, record opv1.TeardownRecordSpec, namespaces ...string) error {
	if st.Ended == nil {
		st.Ended = &opv1.ProductEnd{At: metav1.NewTime(p.Now), Reason: reason, Message: message}
	}
	if st.Ended.Record != "" {
		return nil
	}
	p.Custody = st.Custody
	if gone, err := a.Destroy(ctx, p, namespaces...); err != nil || !gone {
		return err
	}
	record.Event, record.Reason = event, st.Ended.Reason+": "+st.Ended.Message
	name, err := a.Record(ctx, p, record, "")
	if err != nil {
		return err
	}
	st.Ended.Record = name
	a.Recorder.Eventf(p.Owner, nil, corev1.EventTypeNormal, event, "End", "%s: %s; record %s", st.Ended.Reason, st.Ended.Message, name)
	return nil
}

// Release lets a deleted owner go once its end is recorded (End): its finalizer comes off.
func Release(ctx context.Context, c client.Client, owner client.Object, st *opv1.ArtifactStatus) error {
	if e := st.Ended; e == nil || e.Record == "" {
		return nil
	}
	patch := client.MergeFrom(owner.DeepCopyObject().(client.Object))
	controllerutil.RemoveFinalizer(owner, opv1.Finalizer)
	return c.Patch(ctx, owner, patch)
}

// Retry takes another turn at once when another record took the evidence chain's next place.
func Retry(err error) (ctrl.Result, error) {
	if errors.Is(err, evidence.ErrSequenceTaken) {
		return ctrl.Result{RequeueAfter: 10 * time.Millisecond}, nil
	}
	return ctrl.Result{}, err
}

// Stage is how far an artifact's current revision got before anyone reviews it.
type Stage int

const (
	// Sealing means the revision is not sealed yet.
	Sealing Stage = iota
	// SealFailed means sealing the revision failed; a new revision tries again.
	SealFailed
	// Checking means sealed; the checks have not reported on this digest.
	Checking
	// ChecksFailed means a check found what may not pass; a new revision tries again.
	ChecksFailed
	// Checked means ready for review.
	Checked
)

// Admission says how far the current revision got, and why it stands there: a failure of the
// revision is on record in its custody.
func Admission(revision int64, st *opv1.ArtifactStatus) (Stage, string) {
	sealed := st.Sealed
	failure := ""
	if c := st.Custody; c != nil && c.Revision == revision {
		failure = c.Failure
	}
	switch {
	case (sealed == nil || sealed.Revision != revision) && failure != "":
		return SealFailed, failure
	case sealed == nil || sealed.Revision != revision:
		return Sealing, fmt.Sprintf("sealing revision %d", revision)
	case st.Checks == nil || st.Checks.SHA256 != sealed.SHA256:
		return Checking, "checking " + sealed.SHA256
	case st.Checks.Outcome == string(opv1.CheckFail):
		return ChecksFailed, fmt.Sprintf("%d automatic check(s) found what may not pass the airlock; raise spec.revision once fixed", len(st.Checks.Findings))
	}
	return Checked, ""
}

// Standing is what an owner's phase means for its conditions.
type Standing int

const (
	// Moving means the operator is at work.
	Moving Standing = iota
	// AwaitingPeople means a review is awaited.
	AwaitingPeople
	// Stopped means returned or failed; the submitter raises the revision.
	Stopped
	// Done means published or delivered.
	Done
	// Over means ended for good.
	Over
)

// Summarize is the conditions' summary of an owner standing where its phase says, for reason
// and message; waiting says what it waits for out of the operator's hands.
func Summarize(standing Standing, reason, message string, st *opv1.ArtifactStatus, waiting string) conditions.Summary {
	switch standing {
	case Done:
		return conditions.Summary{Ready: true, Reason: reason, Message: message}
	case AwaitingPeople, Stopped:
		return conditions.Summary{Reason: reason, Message: message, Stalled: standing == Stopped}
	case Over:
		if e := st.Ended; e != nil && e.Record != "" {
			return conditions.Summary{Ready: true, Reason: e.Reason, Message: e.Message + "; its copies are destroyed, record " + e.Record}
		}
		return conditions.Summary{Reason: reason, Message: "destroying its copies", Progressing: true}
	case Moving: // the operator is at work: below
	}
	if waiting != "" {
		message += "; " + waiting
	}
	return conditions.Summary{Reason: reason, Message: message, Progressing: true}
}
