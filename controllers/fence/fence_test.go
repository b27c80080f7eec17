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
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		var notes []string
		err := Wait(ctx, target, 100*time.Millisecond, func(s string) { notes = append(notes, s) })
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
