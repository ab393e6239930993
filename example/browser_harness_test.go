package main

// The harness of the real-browser tests in browser_test.go: it finds
// Chromium, serves the example with its embedded stand-in on loopback, starts
// one headless Chromium per test, and saves screenshots when a test fails.
//
// Environment:
//
//	SHOPSSO_REQUIRE_EXTERNAL=1  a missing Chromium fails the tests instead of
//	                            skipping them (CI sets it)
//	SHOPSSO_CHROMIUM            the Chromium binary to use, a path or a name
//	                            looked up in PATH, instead of searching for
//	                            chromium, chromium-browser and google-chrome;
//	                            SHOPSSO_CHROMIUM=/nonexistent exercises the
//	                            skip (or failure) path
//	SHOPSSO_ARTIFACTS           where failure screenshots go (default
//	                            testdata/artifacts, which git ignores)

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	envChromium  = "SHOPSSO_CHROMIUM"
	envArtifacts = "SHOPSSO_ARTIFACTS"

	// browserTestTimeout bounds one browser test, from starting Chromium to
	// its last check.
	browserTestTimeout = 60 * time.Second
	// screenshotTimeout bounds taking a failure screenshot, which runs after
	// the test's own deadline may have passed.
	screenshotTimeout = 10 * time.Second
)

// chromiumNames are the names tried, in order, when SHOPSSO_CHROMIUM is
// unset.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// findChromium returns the Chromium binary to run: SHOPSSO_CHROMIUM if set,
// else the first of chromiumNames in PATH. Without one it returns "" and
// what it tried.
func findChromium() (path, tried string) {
	if v := os.Getenv(envChromium); v != "" {
		p, err := exec.LookPath(v)
		if err != nil {
			return "", fmt.Sprintf("%s=%s: %v", envChromium, v, err)
		}
		return p, ""
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", "none of " + strings.Join(chromiumNames, ", ") + " is in PATH"
}

// chromiumOrSkip returns the Chromium binary, or skips (or fails) the test
// by the rule of requireExternal.
func chromiumOrSkip(t testing.TB) string {
	t.Helper()
	path, tried := findChromium()
	if path == "" {
		t.Logf("Chromium: %s", tried)
		requireExternal(t, "Chromium (Debian's chromium package)", false)
	}
	return path
}

// startExample serves the example in this process on a free loopback port,
// with the embedded stand-in for both providers, until the test ends. It
// returns the app's base URL, without a trailing slash.
func startExample(t *testing.T) string {
	t.Helper()
	// Only ADDR is set: credentials or a REDIS_URL in the developer's
	// environment must not take the test off the stand-in.
	s, err := settingsFromEnv(func(key string) string {
		if key == "ADDR" {
			return "127.0.0.1:0"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, s, logger, func(u string) { urlc <- u }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("example: run: %v", err)
		}
	})
	select {
	case u := <-urlc:
		return strings.TrimSuffix(u, "/")
	case err := <-errc:
		errc <- err // for the cleanup
		t.Fatalf("example stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("example not ready after 30s")
	}
	return ""
}

// browser is one headless Chromium, with a profile of its own, driven
// through one tab.
type browser struct {
	t    *testing.T
	base string // the example's URL, without a trailing slash

	// tab lives until the test's cleanup and has no deadline, so that a
	// failure screenshot can still be taken after ctx has expired.
	tab context.Context
	// ctx is tab with the test's deadline: every step runs in it.
	ctx context.Context

	out *syncBuffer // Chromium's output and chromedp's errors
}

// newBrowser finds Chromium (or skips the test), serves the example, and
// starts a fresh headless Chromium for the test with the test's overall
// deadline. It registers Chromium's shutdown, then the example's, and a
// screenshot of whatever page the browser shows if the test fails.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumOrSkip(t)
	base := startExample(t) // its cleanup runs after the browser's
	deadline := time.Now().Add(browserTestTimeout)
	if d, ok := t.Deadline(); ok && d.Add(-15*time.Second).Before(deadline) {
		deadline = d.Add(-15 * time.Second) // leave time for screenshots and cleanup
	}

	b := &browser{t: t, base: base, out: new(syncBuffer)}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // we may run as root, where the sandbox cannot start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		// No internet here: without these Chromium keeps calling home and
		// logs a flood of refused connections.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(b.out),
		// No UserDataDir: chromedp then gives each browser a fresh temporary
		// --user-data-dir (chromedp-runner*), and removes it, after killing
		// helpers that outlive Chromium, when the browser closes. A fresh
		// profile per test means fresh cookies per test.
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(b.out.logf("chromedp error: ")),
		chromedp.WithLogf(b.out.logf("chromedp: ")),
	)
	t.Cleanup(func() {
		if err := chromedp.Cancel(tab); err != nil {
			t.Logf("closing Chromium: %v", err)
		}
		cancelTab()
		cancelAlloc() // waits for Chromium to exit and its profile to go
		if out := b.out.tail(8 << 10); t.Failed() && out != "" {
			t.Logf("Chromium's output and chromedp's errors (D-Bus noise left out):\n%s", out)
		}
	})

	// The first Do starts Chromium and binds its life to tab, so it must
	// not run in a context with a deadline; a watchdog enforces it instead.
	ctx, cancel := context.WithDeadline(tab, deadline)
	t.Cleanup(cancel)
	stop := context.AfterFunc(ctx, cancelAlloc)
	err := chromedp.Do(tab)
	if !stop() {
		err = fmt.Errorf("%w (no browser before the test's deadline)", ctx.Err())
	}
	if err != nil {
		t.Fatalf("starting Chromium %s: %v", path, err)
	}
	b.tab, b.ctx = tab, ctx
	b.screenshotOnFailure("failure")
	return b
}

// do runs the actions of one step, and fails the test naming the step and
// the page the browser is on when one of them fails.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (page: %s)", step, err, b.where())
	}
}

// text returns the visible text of the element sel selects, waiting until
// it is visible.
func (b *browser) text(step string, sel chromedp.CSS) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("%s: reading %s: %v (page: %s)", step, sel, err, b.where())
	}
	return strings.TrimSpace(s)
}

// location returns the URL of the page the browser shows.
func (b *browser) location(step string) *url.URL {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("%s: reading the location: %v", step, err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("%s: location %q: %v", step, loc, err)
	}
	return u
}

// where describes the current page for an error message, best effort.
func (b *browser) where() string {
	ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown: " + err.Error()
	}
	title, _ := chromedp.Run(ctx, chromedp.Title())
	return fmt.Sprintf("%s %q", loc, title)
}

// screenshot returns a full-page PNG of what the browser shows now.
func (b *browser) screenshot() ([]byte, error) {
	ctx, cancel := context.WithTimeout(b.tab, screenshotTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.FullScreenshot(100))
}

// screenshotOnFailure saves a screenshot of the page the browser shows when
// the test ends, if it failed. It must be registered after the browser's
// own cleanup, so that it runs before it.
func (b *browser) screenshotOnFailure(name string) {
	b.t.Cleanup(func() {
		if !b.t.Failed() {
			return
		}
		png, err := b.screenshot()
		if err != nil {
			b.t.Logf("no %s screenshot: %v", name, err)
			return
		}
		saveArtifact(b.t, name+".png", png)
	})
}

// keepForFailure takes a screenshot of the page the browser shows now, and
// saves it as name if the test fails later.
func (b *browser) keepForFailure(name string) {
	png, err := b.screenshot()
	if err != nil {
		b.t.Logf("no %s screenshot: %v", name, err)
		return
	}
	b.t.Cleanup(func() {
		if b.t.Failed() {
			saveArtifact(b.t, name+".png", png)
		}
	})
}

// artifactsDir is where test artifacts go: $SHOPSSO_ARTIFACTS, or
// testdata/artifacts in the package directory.
func artifactsDir() string {
	if d := os.Getenv(envArtifacts); d != "" {
		return d
	}
	return filepath.Join("testdata", "artifacts")
}

// saveArtifact writes data to the artifacts directory under a name made of
// the test's name and name, and logs the file's path.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := artifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("saving artifact %s: %v", name, err)
		return
	}
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, t.Name())
	path := filepath.Join(dir, safe+"-"+name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Logf("saving artifact %s: %v", name, err)
		return
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	t.Logf("artifact: %s", path)
}

// syncBuffer is a bytes.Buffer that Chromium's output goroutine and
// chromedp's loggers can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// tail returns the last n bytes written, without the lines of Chromium's
// complaints that there is no D-Bus, which a container never has and which
// would bury everything else.
func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kept []string
	for line := range strings.Lines(s.buf.String()) {
		if !strings.Contains(line, ":ERROR:dbus/") {
			kept = append(kept, line)
		}
	}
	out := strings.Join(kept, "")
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// logf returns a printf-style logger that appends lines to s.
func (s *syncBuffer) logf(prefix string) func(string, ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(s, prefix+format+"\n", args...)
	}
}
