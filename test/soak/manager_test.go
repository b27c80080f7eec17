package soak

import (
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
)

// manager runs the operator as its own process, as a cluster runs it, so that a kill is a real
// SIGKILL: no deferred cleanup, no graceful shutdown, caches and queues lost.
type manager struct {
	bin, kubeconfig, log string
	webhookPort          int
	certDir              string

	mu      sync.Mutex
	cmd     *exec.Cmd
	started time.Time
	// startups are how long each start took until the manager answered ready (its webhook
	// server serving), readies when it did; kills are when it was killed.
	startups []time.Duration
	readies  []time.Time
	kills    []time.Time
}

func newManager(cp *controlplane.ControlPlane, dir string) (*manager, error) {
	bin, err := controlplane.BuildManager(dir)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := cp.KubeConfig("opdomain-manager")
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
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(probe),
		"--webhook-port="+strconv.Itoa(m.webhookPort),
		"--webhook-cert-dir="+m.certDir,
		"--self-signed-webhook-certs=false",
		"--zap-log-level=error",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	m.mu.Lock()
	m.cmd, m.started = cmd, began
	m.mu.Unlock()
	ready := "http://127.0.0.1:" + strconv.Itoa(probe) + "/readyz"
	for deadline := began.Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(ready); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				m.mu.Lock()
				m.startups = append(m.startups, time.Since(began))
				m.readies = append(m.readies, time.Now())
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

// readyBefore is the last time before t the manager became ready.
func (m *manager) readyBefore(t time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var last time.Time
	for _, r := range m.readies {
		if r.Before(t) {
			last = r
		}
	}
	return last
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
