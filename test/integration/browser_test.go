package integration

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// browser is Debian's Chromium, run headless: OPDOMAIN_CHROMIUM names it (CI sets it, so there
// the browser tests run or fail); unset, chromium on the PATH, else the test is skipped.
func browser(t *testing.T) string {
	if path := os.Getenv("OPDOMAIN_CHROMIUM"); path != "" {
		return path
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no Chromium: set OPDOMAIN_CHROMIUM, or run hack/setup-browser.sh")
	}
	return path
}

// inChromium loads url in a fresh headless Chromium and returns the DOM it rendered; it also
// keeps a screenshot, named screenshot, in OPDOMAIN_ARTIFACTS (the test's own directory when
// unset), and checks that something was drawn on it.
func inChromium(t *testing.T, url, screenshot string) string {
	g := NewWithT(t)
	chromium := browser(t)
	run := func(args ...string) []byte {
		// Without network of its own to reach, Chromium must not try: no background
		// networking, updates or sync. As root it runs only without its sandbox.
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir(), "--window-size=1400,900"}, append(args, url)...)
		cmd := exec.Command(chromium, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(time.Minute):
				_ = cmd.Process.Kill()
			}
		}()
		out, err := cmd.Output()
		g.Expect(err).NotTo(HaveOccurred(), stderr.String())
		return out
	}
	dom := string(run("--dump-dom"))

	dir := os.Getenv("OPDOMAIN_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	g.Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	shot := filepath.Join(dir, screenshot)
	run("--screenshot=" + shot)
	f, err := os.Open(shot)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(img.Bounds().Size()).To(Equal(image.Pt(1400, 900)))
	g.Expect(darkPixels(img)).To(BeNumerically(">", 1000), "text was drawn on the screenshot")
	t.Logf("screenshot of %s: %s", url, shot)
	return dom
}

// darkPixels counts the pixels darker than mid-grey: text on the page's white.
func darkPixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, gr, bl, _ := img.At(x, y).RGBA()
			if r+gr+bl < 3*0x8000 {
				n++
			}
		}
	}
	return n
}
