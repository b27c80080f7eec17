package fence

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// R1: a dial that reaches the target — connected, or refused by its host — never ends the
// fence; it waits, saying so once, until its context ends.
func TestR1_FenceWaitsWhileItsDialIsAnswered(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := refused.Addr().String()
	_ = refused.Close()
	for _, target := range []string{l.Addr().String(), closedAddr} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var notes []string
		// The fence's own dial timeout is 500 ms; a loopback dial can take over 100 ms on a
		// machine busy with other tests.
		err := Wait(ctx, target, 250*time.Millisecond, func(s string) { notes = append(notes, s) })
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: the fence ended (%v) although its dial was answered; notes: %q", target, err, notes)
		}
		if len(notes) != 1 {
			t.Errorf("%s: want one note for an outcome that never changed, got %q", target, notes)
		}
	}
}

// R1: what ends the fence is what a drop or an administrative reject looks like to the pod.
func TestR1_FenceCountsOnlyDropsAsEnforced(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, true},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, true},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}, false},
		{&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, false},
		{nil, false},
	} {
		if got := dropped(tc.err); got != tc.want {
			t.Errorf("dropped(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// R1: one dropped dial is not enough — a dial that timed out may only have been slow — the fence
// ends on the second in a row, and a dial answered between two drops starts the count again.
func TestR1_FenceEndsOnlyOnDropsInARow(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}
	answered := &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	outcomes := []error{timeout, answered, timeout, answered, timeout, timeout, answered}
	dials := 0
	dial := func(context.Context) (net.Conn, error) {
		err := outcomes[dials]
		dials++
		return nil, err
	}
	var notes []string
	if err := wait(context.Background(), "target:443", dial, func(s string) { notes = append(notes, s) }); err != nil {
		t.Fatal(err)
	}
	if dials != 6 {
		t.Errorf("the fence ended after %d dials, want 6 (the first two drops in a row); notes: %q", dials, notes)
	}
	if last := notes[len(notes)-1]; last != "egress to target:443 is dropped after 6 attempt(s), 2 in a row: the enforcer holds this pod" {
		t.Errorf("last note %q", last)
	}
}
