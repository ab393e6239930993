package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"

	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// TestLoadManyCustomers logs 1,000 customers in (half through each
// provider) and has each make 10 requests to /me, 50 customers at a time,
// against one instance with a memory store and the stand-in. Every answer
// must be right; afterwards no goroutine may be left behind. It reports
// throughput and latency percentiles of the /me requests (see
// BENCHMARKS.md, "Load test").
func TestLoadManyCustomers(t *testing.T) {
	customers, perCustomer, workers := 1000, 10, 50
	if testing.Short() {
		customers = 100
	}
	goroutinesBefore, cleanupBefore, _ := goroutines()

	stand := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	defer stand.Close()
	srv := httptest.NewUnstartedServer(nil)
	defer srv.Close()
	logs := &logSink{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := memstore.NewWithCleanupInterval(0) // no cleanup goroutine
	a, err := newApp(settings{}, "http://"+srv.Listener.Addr().String(), logger, deps{Stand: stand, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.handler
	srv.Start()
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * workers}
	shutdown := sync.OnceFunc(func() {
		srv.Close()
		stand.Close()
		a.close()
		tr.CloseIdleConnections()
		// The providers' token calls go through http.DefaultTransport.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	defer shutdown()

	providers := []string{istores.Name, multicart.Name}
	meLatency := make([]time.Duration, customers*perCustomer)
	loginLatency := make([]time.Duration, customers)
	var failures atomic.Int64
	var firstErrs struct {
		sync.Mutex
		list []string
	}
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			firstErrs.Lock()
			firstErrs.list = append(firstErrs.list, fmt.Sprintf(format, args...))
			firstErrs.Unlock()
		}
	}

	jobs := make(chan int)
	var wg sync.WaitGroup
	began := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				provider := providers[n%len(providers)]
				jar, _ := cookiejar.New(nil)
				client := &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}
				t0 := time.Now()
				status, me, err := loadGet(client, srv.URL+"/auth/"+provider+"/login?return_to=/me", "text/html")
				loginLatency[n] = time.Since(t0)
				if err != nil || status != http.StatusOK || me.Provider != provider || me.Subject != "customer-1" {
					fail("customer %d: login through %s: status %d, provider %q, subject %q, err %v",
						n, provider, status, me.Provider, me.Subject, err)
					continue
				}
				for i := range perCustomer {
					t0 := time.Now()
					status, me, err := loadGet(client, srv.URL+"/me", "application/json")
					meLatency[n*perCustomer+i] = time.Since(t0)
					if err != nil || status != http.StatusOK || me.Provider != provider || me.Subject != "customer-1" {
						fail("customer %d request %d: status %d, provider %q (want %q), subject %q, err %v",
							n, i, status, me.Provider, provider, me.Subject, err)
					}
				}
			}
		}()
	}
	for n := range customers {
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(began)

	if n := failures.Load(); n > 0 {
		t.Errorf("%d failed requests; first ones:\n%v\nlogs:\n%s", n, firstErrs.list, logs.String())
	}
	if n := stand.TokenCalls("", ssotest.GrantAuthorizationCode); n != customers {
		t.Errorf("stand-in saw %d code exchanges, want %d", n, customers)
	}
	if logs.String() != "" {
		t.Errorf("warnings logged under load:\n%s", logs.String())
	}

	requests := customers * perCustomer
	slices.Sort(meLatency)
	slices.Sort(loginLatency)
	t.Logf("%d customers (%d per provider) x %d GET /me, %d workers, race detector %v, GOMAXPROCS %d",
		customers, customers/len(providers), perCustomer, workers, raceEnabled, runtime.GOMAXPROCS(0))
	// A login is 4 browser requests: login, authorize (stand-in), callback,
	// and the /me it lands on; the time includes them all.
	t.Logf("wall time %v: %.0f logins/s, %.0f GET /me/s, %.0f browser requests/s in all",
		elapsed.Round(time.Millisecond), float64(customers)/elapsed.Seconds(), float64(requests)/elapsed.Seconds(),
		float64(requests+4*customers)/elapsed.Seconds())
	t.Logf("GET /me latency: p50 %v  p90 %v  p99 %v  max %v",
		pct(meLatency, 50), pct(meLatency, 90), pct(meLatency, 99), meLatency[len(meLatency)-1])
	t.Logf("whole login (4 HTTP requests, 1 code exchange): p50 %v  p90 %v  p99 %v  max %v",
		pct(loginLatency, 50), pct(loginLatency, 90), pct(loginLatency, 99), loginLatency[len(loginLatency)-1])

	// No goroutine may outlive the servers: wait for connection goroutines
	// to wind down, then compare with the count before the test. The one
	// known leftover (scs's, see scsCleanupFrame) is recognised by its stack
	// rather than absorbed by a tolerance, which would hide a real leak of
	// one goroutine (an unclosed server's accept loop, say).
	shutdown()
	const tolerance = 0
	deadline := time.Now().Add(5 * time.Second)
	after, cleanupAfter, stacks := goroutines()
	for after > goroutinesBefore && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		after, cleanupAfter, stacks = goroutines()
	}
	t.Logf("goroutines: %d before, %d after shutdown (not counting scs memstore cleanup goroutines: %d before, %d after)",
		goroutinesBefore, after, cleanupBefore, cleanupAfter)
	if after > goroutinesBefore+tolerance {
		t.Errorf("goroutine leak: %d before, %d after shutdown\n%s", goroutinesBefore, after, stacks)
	}
}

// scsCleanupFrame is in the stack of the cleanup goroutine that every
// scs.New starts for its default memory store. newApp replaces that store
// or keeps it for the life of the process, and the goroutine cannot be
// stopped without a data race (alexedwards/scs#231: StopCleanup reads a
// field the goroutine writes), so it outlives the app: one per scs.New.
const scsCleanupFrame = "scs/v2/memstore.(*MemStore).startCleanup"

// goroutines counts the live goroutines apart from scs memstore cleanup
// ones, counts those separately, and returns the stacks of the former.
func goroutines() (n, scsCleanup int, stacks string) {
	buf := make([]byte, 1<<20)
	for {
		k := runtime.Stack(buf, true)
		if k < len(buf) {
			buf = buf[:k]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var others [][]byte
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte(scsCleanupFrame)) {
			scsCleanup++
		} else {
			others = append(others, g)
		}
	}
	return len(others), scsCleanup, string(bytes.Join(others, []byte("\n\n")))
}

// loadGet sends a GET following redirects and decodes a /me answer.
func loadGet(c *http.Client, url, accept string) (int, meResponse, error) {
	var me meResponse
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, me, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	if err != nil {
		return 0, me, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, me, nil
	}
	return resp.StatusCode, me, json.NewDecoder(resp.Body).Decode(&me)
}

// pct returns the p-th percentile (nearest rank) of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}
