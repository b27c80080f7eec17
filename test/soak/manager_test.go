package soak

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/operator"
)

// manager runs the operator as its own process, as a cluster runs it, so that a kill is a real
// SIGKILL: no deferred cleanup, no graceful shutdown, caches and queues lost.
type manager struct {
	bin, kubeconfig, log string
	webhookPort          int
	certDir              string

	mu  sync.Mutex
	cmd *exec.Cmd
	// starts are when each run was started and startups how long it took until the manager
	// answered ready (its webhook server serving); kills are when it was killed.
	starts   []time.Time
	startups []time.Duration
	kills    []time.Time
}

func newManager(cp *controlplane.ControlPlane, dir string) (*manager, error) {
	bin, err := controlplane.BuildManager(dir)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := cp.KubeConfig(operator.User)
	if err != nil {
		return nil, err
	}
	m := &manager{bin: bin, kubeconfig: filepath.Join(dir, "kubeconfig"), log: filepath.Join(dir, "manager.log")}
	o := cp.Env.WebhookInstallOptions
	m.webhookPort, m.certDir = o.LocalServingPort, o.LocalServingCertDir
	return m, os.WriteFile(m.kubeconfig, kubeconfig, 0o600)
}

// start starts the manager and waits until it reports ready: its webhook serves, so the API
// server accepts writes to opdomain's kinds again.
func (m *manager) start() error {
	probe, err := freePort()
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(m.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	// The child keeps its own descriptor; ours is only for handing over.
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(m.bin,
		"--kubeconfig="+m.kubeconfig,
		"--metrics-bind-address=0",
		"--disclosure-bind-address=",
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(probe),
		"--webhook-port="+strconv.Itoa(m.webhookPort),
		"--webhook-cert-dir="+m.certDir,
		"--self-signed-webhook-certs=false",
		// Info, with exact times: gateStarts reads when each run's gate controller started.
		"--zap-log-level=info", "--zap-time-encoding=rfc3339nano",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	m.mu.Lock()
	m.cmd = cmd
	m.starts = append(m.starts, began)
	m.mu.Unlock()
	ready := "http://127.0.0.1:" + strconv.Itoa(probe) + "/readyz"
	for deadline := began.Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(ready); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				m.mu.Lock()
				m.startups = append(m.startups, time.Since(began))
				m.mu.Unlock()
				return nil
			}
		}
	}
	return fmt.Errorf("the manager was not ready 60 s after it started; see %s", m.log)
}

// kill sends SIGKILL and reaps the process.
func (m *manager) kill() {
	m.mu.Lock()
	cmd := m.cmd
	m.cmd = nil
	if cmd != nil {
		m.kills = append(m.kills, time.Now())
	}
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

func (m *manager) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil
}

// killedBetween says whether the manager was killed in [from, to].
func (m *manager) killedBetween(from, to time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.kills {
		if !k.Before(from) && !k.After(to) {
			return true
		}
	}
	return false
}

// startedBefore is when the run of the manager that was running at t started.
func (m *manager) startedBefore(t time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var last time.Time
	for _, s := range m.starts {
		if s.Before(t) {
			last = s
		}
	}
	return last
}

// gateStarts returns, for every run that got that far, how long after its start the gate
// controller (the cut) started its workers: the restart's start-up as far as a cut goes. It
// reads controller-runtime's "Starting workers" log lines.
func (m *manager) gateStarts() ([]time.Duration, error) {
	f, err := os.Open(m.log)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg, Controller, TS string
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "Starting workers" || line.Controller != "gate" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, line.TS)
		if err != nil {
			return nil, err
		}
		out = append(out, at.Sub(m.startedBefore(at)))
	}
	return out, sc.Err()
}

func (m *manager) startupTimes() []time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Duration(nil), m.startups...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
