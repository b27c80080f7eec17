// Command agent is what the end-to-end suite runs in its pods: the pod sandbox's pause process,
// and a workload that serves, dials, resolves and writes, so that a test can see a packet
// arrive or not, a name resolve or not, and bytes land on a volume. What a dial or a resolution
// found is also its termination message. It is built into the
// node's images by the suite itself; no registry is needed.
//
//	agent pause                     block until SIGTERM or SIGINT (the sandbox image)
//	agent serve :PORT               answer every TCP connection with a line naming the host
//	agent stream :PORT              send a line every 50 ms on every TCP connection, for good
//	agent follow HOST:PORT          read a stream; when no line came for a second, write
//	                                "stalled TIME" (when the last one came) to
//	                                /dev/termination-log; "stopped TIME" when it is stopped first
//	agent dial HOST:PORT [TIMEOUT]  exit 0 when a connection opens and a line is read, 2 when not
//	agent probe HOST:PORT           dial every 50 ms; once reached, the first attempt that fails
//	                                ends it, writing "refused TIME" (when that attempt began,
//	                                RFC 3339 ns) to /dev/termination-log; "stopped TIME" when
//	                                it is stopped first
//	agent resolve NAME [SERVER]     print the addresses NAME resolves to, asking the pod's name
//	                                servers or SERVER (HOST:PORT) alone; exit 2 when it does not
//	agent write PATH TEXT           write TEXT to PATH and sync it to disk, then pause
//	agent say TEXT                  write TEXT to /dev/termination-log and exit
//	agent read PATH                 copy what PATH holds to /dev/termination-log and exit
//	agent upstream :PORT            a DNS server that prints "query NAME" for every question it
//	                                is asked and answers every A question with 192.0.2.1
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: agent pause|serve|stream|follow|dial|probe|resolve|write|say|upstream ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "pause":
		pause()
	case "serve":
		need(args, 1)
		serve(args[0])
	case "dial":
		need(args, 1)
		timeout := 2 * time.Second
		if len(args) > 1 {
			v, err := time.ParseDuration(args[1])
			if err != nil {
				fail(err.Error())
			}
			timeout = v
		}
		report(dial(args[0], timeout))
	case "stream":
		need(args, 1)
		stream(args[0])
	case "follow":
		need(args, 1)
		follow(args[0])
	case "probe":
		need(args, 1)
		probe(args[0])
	case "resolve":
		need(args, 1)
		server := ""
		if len(args) > 1 {
			server = args[1]
		}
		report(resolve(args[0], server))
	case "write":
		need(args, 2)
		write(args[0], args[1])
		pause()
	case "say":
		need(args, 1)
		write("/dev/termination-log", args[0])
	case "read":
		need(args, 1)
		b, err := os.ReadFile(args[0])
		if err != nil {
			fail(err.Error())
		}
		write("/dev/termination-log", string(b))
	case "upstream":
		need(args, 1)
		upstream(args[0])
	default:
		fail("unknown command " + os.Args[1])
	}
}

func need(args []string, n int) {
	if len(args) < n {
		fail(fmt.Sprintf("%s needs %d argument(s)", os.Args[1], n))
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "agent:", msg)
	os.Exit(1)
}

func pause() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}

func serve(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fail(err.Error())
	}
	host, _ := os.Hostname()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = fmt.Fprintf(c, "opdomain-agent %s\n", host)
			_ = c.Close()
		}
	}()
	pause()
}

// report prints what happened, also as the termination message, and exits 2 when it did not
// succeed.
func report(what string, ok bool) {
	fmt.Println(what)
	_ = os.WriteFile("/dev/termination-log", []byte(what), 0o644)
	if !ok {
		os.Exit(2)
	}
}

// dial succeeds only when the peer answered: a SYN that is dropped or refused, or a connection
// that opens but says nothing (a proxy), all count as not reached.
func dial(addr string, timeout time.Duration) (string, bool) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "unreachable: " + err.Error(), false
	}
	defer func() { _ = c.Close() }()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "connected, no answer: " + err.Error(), false
	}
	return "reached: " + strings.TrimSpace(line), true
}

func stream(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fail(err.Error())
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				for {
					if _, err := fmt.Fprintln(c, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		}
	}()
	pause()
}

// follow measures how long an established connection outlives the path that let it open: it
// reports when it last received a line, once the stream stalls or its pod is stopped.
func follow(addr string) {
	stop := stopped()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		fail(err.Error())
	}
	lines := make(chan time.Time)
	go func() {
		r := bufio.NewReader(c)
		for {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := r.ReadString('\n'); err != nil {
				close(lines)
				return
			}
			lines <- time.Now()
		}
	}()
	var last time.Time
	for {
		select {
		case at, ok := <-lines:
			if !ok {
				ended("stalled", last)
				return
			}
			last = at
		case <-stop:
			ended("stopped", last)
			return
		}
	}
}

// stopped is told when the kubelet stops the agent's container.
func stopped() <-chan os.Signal {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	return stop
}

// probe measures when a path that was open closes: the caller reads the time from the pod's
// termination message, which the API shows without any log access. Stopped before it saw the
// path close (its pod deleted), it reports that instead: the pod's own access ended then.
func probe(addr string) {
	stop := stopped()
	reached := false
	for {
		began := time.Now()
		if _, ok := dial(addr, 200*time.Millisecond); ok {
			reached = true
		} else if reached {
			ended("refused", began)
			return
		}
		select {
		case <-stop:
			ended("stopped", time.Now())
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ended writes "WHAT TIME" (RFC 3339, ns) to the termination message.
func ended(what string, at time.Time) {
	if err := os.WriteFile("/dev/termination-log", []byte(what+" "+at.UTC().Format(time.RFC3339Nano)), 0o644); err != nil {
		fail(err.Error())
	}
}

// resolve looks name up as the pod's resolver would, or, given a server, the way a workload
// that ignores its resolv.conf would: straight at that server.
func resolve(name, server string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resolver := net.DefaultResolver
	if server != "" {
		resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, server)
		}}
	}
	addrs, err := resolver.LookupHost(ctx, name)
	if err != nil {
		return "unresolved: " + err.Error(), false
	}
	return "resolved: " + strings.Join(addrs, " "), true
}

func write(path, text string) {
	f, err := os.Create(path)
	if err != nil {
		fail(err.Error())
	}
	if _, err := f.WriteString(text); err != nil {
		fail(err.Error())
	}
	if err := f.Sync(); err != nil {
		fail(err.Error())
	}
	if err := f.Close(); err != nil {
		fail(err.Error())
	}
}

// upstream is the resolver beyond the cluster, for a test to see which names reach it.
func upstream(addr string) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		fail(err.Error())
	}
	buf := make([]byte, 4096)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			fail(err.Error())
		}
		var msg dnsmessage.Message
		if err := msg.Unpack(buf[:n]); err != nil {
			continue
		}
		msg.Response, msg.RecursionAvailable = true, true
		for _, q := range msg.Questions {
			fmt.Println("query", q.Name.String())
			if q.Type == dnsmessage.TypeA {
				msg.Answers = append(msg.Answers, dnsmessage.Resource{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1},
					Body:   &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}},
				})
			}
		}
		if out, err := msg.Pack(); err == nil {
			_, _ = conn.WriteTo(out, from)
		}
	}
}
