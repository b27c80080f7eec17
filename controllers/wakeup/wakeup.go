// Package wakeup reconciles an object again when a boundary it stored (a term's end, a
// credential's renewal) comes due on the injected clock. With a real clock it is a timer; with
// a fake clock in tests it fires when the test steps the clock past the boundary, so expiry is
// tested without sleeping and without a polling loop.
package wakeup

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Clock is the clock controllers read and schedule on.
type Clock interface {
	clock.PassiveClock
	AfterFunc(d time.Duration, f func()) clock.Timer
}

// Scheduler holds at most one pending wakeup per object.
type Scheduler struct {
	clock  Clock
	events chan event.GenericEvent

	mu     sync.Mutex
	timers map[types.NamespacedName]pending
	seq    uint64
}

// pending is an object's wakeup; seq tells it from the one that may replace it.
type pending struct {
	timer clock.Timer
	seq   uint64
}

// New returns a scheduler on the given clock.
func New(c Clock) *Scheduler {
	return &Scheduler{clock: c, events: make(chan event.GenericEvent, 1024), timers: map[types.NamespacedName]pending{}}
}

// At replaces obj's pending wakeup with one at t; a zero t only cancels.
func (s *Scheduler) At(obj client.Object, t time.Time) {
	key := client.ObjectKeyFromObject(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.timers[key]; ok {
		old.timer.Stop()
		delete(s.timers, key)
	}
	if t.IsZero() {
		return
	}
	trigger := obj.DeepCopyObject().(client.Object)
	delay := t.Sub(s.clock.Now())
	if delay < 0 {
		delay = 0
	}
	s.seq++
	seq := s.seq
	// The wakeup fires on a goroutine of its own: a fake clock calls f while holding its lock,
	// and At, holding s.mu, may be waiting for that lock (AfterFunc, Stop) at that moment.
	s.timers[key] = pending{seq: seq, timer: s.clock.AfterFunc(delay, func() { go s.fire(key, seq, trigger) })}
}

// fire forgets the wakeup it belongs to, unless At replaced it since, and sends the trigger.
func (s *Scheduler) fire(key types.NamespacedName, seq uint64, trigger client.Object) {
	s.mu.Lock()
	if p, ok := s.timers[key]; ok && p.seq == seq {
		delete(s.timers, key)
	}
	s.mu.Unlock()
	s.events <- event.GenericEvent{Object: trigger}
}

// Source feeds due wakeups to a controller.
func (s *Scheduler) Source() source.Source {
	return source.Channel(s.events, &handler.EnqueueRequestForObject{})
}

// Earliest returns the earliest non-zero time, or zero.
func Earliest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
}
