package wakeup

import (
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// Stepping a fake clock while reconcilers reschedule their objects must not deadlock: the fake
// clock runs a due wakeup while holding its lock, and At holds the scheduler's while it asks the
// clock for a timer. (It did, in the integration suite, once enough objects woke at once.)
func TestSteppingTheClockWhileObjectsRescheduleDoesNotDeadlock(t *testing.T) {
	g := NewWithT(t)
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(clock)
	go func() {
		for range s.events { // the controller's side of the channel
		}
	}()
	objects := make([]*corev1.ConfigMap, 50)
	for i := range objects {
		objects[i] = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("o%d", i)}}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for round := 0; round < 2000; round++ {
				for _, o := range objects {
					s.At(o, clock.Now().Add(time.Second))
				}
			}
		}()
		go func() {
			defer wg.Done()
			for round := 0; round < 20000; round++ {
				clock.Step(time.Second)
			}
		}()
		wg.Wait()
	}()
	g.Eventually(done, 20*time.Second).Should(BeClosed())
}

// A wakeup fires once its time has come, and not before; a replaced one does not fire.
func TestAWakeupFiresAtItsTimeAndAReplacedOneDoesNot(t *testing.T) {
	g := NewWithT(t)
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(clock)
	o := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o"}}
	s.At(o, clock.Now().Add(time.Minute))
	s.At(o, clock.Now().Add(time.Hour))
	clock.Step(time.Minute)
	g.Consistently(s.events, 100*time.Millisecond).ShouldNot(Receive(), "replaced")
	clock.Step(time.Hour)
	g.Eventually(s.events).Should(Receive())
	g.Eventually(func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.timers)
	}).Should(BeZero(), "forgotten once fired")
}
