// Package fence holds a workspace pod's containers until the node's NetworkPolicy enforcer holds
// the pod (R1). An enforcer learns a new pod's address from the API server, which hears it from
// the kubelet once the pod's network is up; some enforcers let that pod's packets through
// unexamined until then, although the NetworkPolicy API asks for isolation "from the very first
// instant" (kube-network-policies does: a workspace pod dialing out at once got through 8 times
// in 8 on the test node). The fence, the first init container of every workspace pod, dials an
// address the workspace's policies deny and that answers anyone else, and ends only once such
// dials are dropped, twice in a row: from then on the enforcer holds the pod, and the pod's own
// containers start.
package fence

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// ContainerName is the fence's init container.
const ContainerName = "opdomain-fence"

// Config says what the fence runs and dials; the zero Config injects no fence.
type Config struct {
	// Image is the manager's image, whose binary runs the fence.
	Image string
	// Target is host:port of something that answers a TCP connection from any pod whose egress
	// is not enforced yet, and that workspace policies deny: by default the manager's webhook
	// Service. It must not refuse workspaces itself (an ingress policy dropping them would end
	// every fence at once, proving nothing).
	Target string
}

// Enabled says whether workspace pods get a fence.
func (c Config) Enabled() bool { return c.Image != "" }

// Args are the fence container's arguments to the image's entrypoint.
func (c Config) Args() []string { return []string{"fence", "--target=" + c.Target} }

// DropsToEnd is how many dials in a row must be dropped before the fence ends: one dial that
// timed out may only have been slow (a loaded node answers late), and ending the fence early
// would let the pod's first packets out.
const DropsToEnd = 2

// Wait dials target until DropsToEnd dials in a row are dropped (they time out, or an enforcer
// answers that the host is administratively unreachable), and tells note each time the outcome
// changes. A dial that connects, or is refused by the target's host, reached it: egress is not
// enforced yet.
func Wait(ctx context.Context, target string, timeout time.Duration, note func(string)) error {
	dialer := net.Dialer{Timeout: timeout}
	return wait(ctx, target, func(ctx context.Context) (net.Conn, error) { return dialer.DialContext(ctx, "tcp", target) }, note)
}

// wait is Wait with the dial given.
func wait(ctx context.Context, target string, dial func(context.Context) (net.Conn, error), note func(string)) error {
	last, drops := "", 0
	for attempt := 1; ; attempt++ {
		c, err := dial(ctx)
		outcome := ""
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case dropped(err):
			if drops++; drops == DropsToEnd {
				note(fmt.Sprintf("egress to %s is dropped after %d attempt(s), %d in a row: the enforcer holds this pod", target, attempt, drops))
				return nil
			}
			outcome = fmt.Sprintf("dialing %s: %v: dropped once, dialing again to be sure", target, err)
		case err == nil:
			drops = 0
			_ = c.Close()
			outcome = fmt.Sprintf("reached %s: egress is not enforced yet", target)
		default:
			drops = 0
			outcome = fmt.Sprintf("dialing %s: %v: waiting for a dropped dial", target, err)
		}
		if outcome != last {
			note(outcome)
			last = outcome
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dropped is true for a dial that no host answered: what an enforcer's drop, or its
// administrative reject (ICMP host prohibited), looks like to the pod.
func dropped(err error) bool {
	var ne net.Error
	return err != nil && ((errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, syscall.EHOSTUNREACH))
}
