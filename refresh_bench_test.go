package sso

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/oauth2"

	"github.com/shopsso/sso/oauthhttp"
	"github.com/shopsso/sso/sessioncodec"
)

// Refresh storm benchmarks: stormCustomers customers,
// stormRequests concurrent requests each, whose tokens fall due together,
// against a token endpoint that answers after stormLatency and refuses a
// refresh token spent twice. Each op is one storm; the metrics are the
// storm's request latencies over all ops.
//
// A request's latency is measured from the storm's arrival — the instant
// all of its requests are released at once — to its answer, as a client
// would see it: the time it queues for a CPU behind the storm's other
// requests (and the refreshes they start) is part of it. Its service time
// (from when its goroutine first runs) is reported as well.
//
// The token endpoint runs in a process of its own (this test binary,
// started again with stormEndpointEnv set), as a provider is another
// server: in this process its handlers would queue for the Go scheduler
// behind the storm's requests, and its latency would grow with the load
// it is meant to be independent of. It still shares the machine's CPUs,
// at the lowest priority (nice 19), so that the CPU it spends answering
// 1,000 token calls is not counted in the storm's latency.
const (
	stormCustomers = 1000
	stormRequests  = 5
	stormLatency   = 100 * time.Millisecond
)

// stormEndpointEnv, set to 1, makes the test binary serve the storm's
// token endpoint (see TestMain) instead of running tests.
const stormEndpointEnv = "SHOPSSO_STORM_ENDPOINT"

func TestMain(m *testing.M) {
	if os.Getenv(stormEndpointEnv) == "1" {
		if err := serveStormEndpoint(); err != nil {
			fmt.Fprintln(os.Stderr, "storm endpoint:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// stormStats are the token endpoint's counts.
type stormStats struct {
	Calls  int64 // token calls
	Reused int64 // refresh tokens presented after they were spent
	Conns  int64 // connections accepted
}

// serveStormEndpoint serves, on a loopback port it prints to stdout, a
// token endpoint with an injected latency that rotates refresh tokens
// (/token), hands out new ones (/issue?n=), and reports its counts
// (/stats), until its stdin is closed.
func serveStormEndpoint() error {
	var (
		calls, reused, conns, next atomic.Int64
		mu                         sync.Mutex
		live                       = make(map[string]bool) // unspent refresh tokens
	)
	issue := func() string {
		rt := fmt.Sprintf("refresh-%d", next.Add(1))
		mu.Lock()
		live[rt] = true
		mu.Unlock()
		return rt
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(stormLatency) // the provider's own latency
		rt := r.PostFormValue("refresh_token")
		mu.Lock()
		ok := live[rt]
		delete(live, rt)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			reused.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("access-%d", next.Add(1)), "token_type": "Bearer",
			"refresh_token": issue(), "expires_in": 3600,
		})
	})
	mux.HandleFunc("POST /issue", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		rts := make([]string, n)
		for i := range rts {
			rts[i] = issue()
		}
		_ = json.NewEncoder(w).Encode(rts)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(stormStats{Calls: calls.Load(), Reused: reused.Load(), Conns: conns.Load()})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	return srv.Close()
}

// stormEndpoint is the benchmark's handle on the token endpoint's process.
type stormEndpoint struct {
	url    string
	client *http.Client // for /issue and /stats, not the token calls
}

func newStormEndpoint(tb testing.TB) *stormEndpoint {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	// At the lowest CPU priority where nice(1) is there: a provider runs on
	// machines of its own, and here its handlers' CPU would otherwise be
	// taken from the storm's requests on the same two cores.
	cmd := exec.Command(exe)
	if nice, err := exec.LookPath("nice"); err == nil {
		cmd = exec.Command(nice, "-n", "19", exe)
	}
	cmd.Env = append(os.Environ(), stormEndpointEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			tb.Errorf("storm endpoint: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("storm endpoint did not start: %v", err)
	}
	return &stormEndpoint{url: strings.TrimSpace(line), client: &http.Client{Timeout: 10 * time.Second}}
}

// issue returns n new live refresh tokens.
func (e *stormEndpoint) issue(tb testing.TB, n int) []string {
	tb.Helper()
	resp, err := e.client.PostForm(e.url+"/issue", url.Values{"n": {strconv.Itoa(n)}})
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var rts []string
	if err := json.NewDecoder(resp.Body).Decode(&rts); err != nil || len(rts) != n {
		tb.Fatalf("issuing refresh tokens: %d, %v", len(rts), err)
	}
	return rts
}

// stats returns the endpoint's counts.
func (e *stormEndpoint) stats(tb testing.TB) stormStats {
	tb.Helper()
	resp, err := e.client.Get(e.url + "/stats")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var st stormStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		tb.Fatal(err)
	}
	return st
}

// stormProvider refreshes through the storm endpoint with x/oauth2 and
// [oauthhttp.TokenClient], as the real providers do.
type stormProvider struct {
	oauth  oauth2.Config
	client *http.Client
}

func (p *stormProvider) Name() string                  { return "storm" }
func (p *stormProvider) AuthCodeURL(AuthParams) string { return "" }
func (p *stormProvider) Exchange(context.Context, string, string) (*oauth2.Token, error) {
	return nil, errors.New("not used")
}

func (p *stormProvider) Refresh(ctx context.Context, rt string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client)
	return p.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
}

// stormClock is the Auth's clock, moved by the benchmark.
type stormClock struct{ now atomic.Int64 }

func (c *stormClock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *stormClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

type stormApp struct {
	auth    *Auth
	ep      *stormEndpoint
	clock   *stormClock
	handler http.Handler
	clients []*benchClient // stormRequests per customer, reused by every storm
}

func newStormApp(b *testing.B) *stormApp {
	b.Helper()
	app := &stormApp{ep: newStormEndpoint(b), clock: &stormClock{}}
	app.clock.now.Store(time.Now().UnixNano())
	sm := scs.New()
	sm.Codec = sessioncodec.Codec{}
	p := &stormProvider{
		oauth: oauth2.Config{ClientID: "storm", Endpoint: oauth2.Endpoint{
			TokenURL: app.ep.url + "/token", AuthStyle: oauth2.AuthStyleInParams}},
		client: oauthhttp.TokenClient(nil),
	}
	a, err := New(Config{
		Sessions: sm, Providers: []Provider{p}, Now: app.clock.Now,
		Logger: slog.New(slog.DiscardHandler), InsecureCookie: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	app.auth = a
	app.handler = sm.LoadAndSave(a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := TokenFromContext(r.Context()); !ok {
			http.Error(w, "no token", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(benchBody)
	})))
	now := app.clock.Now()
	for i, rt := range app.ep.issue(b, stormCustomers) {
		cookie := benchPutLogin(b, sm, login{
			Provider: "storm", AccessToken: fmt.Sprintf("first-%d", i), TokenType: "Bearer",
			RefreshToken: rt, Obtained: now, Expiry: now.Add(time.Hour),
		})
		for range stormRequests {
			app.clients = append(app.clients, newBenchClient(cookie))
		}
	}
	return app
}

// stormLatencies are one storm's requests' latencies: from the storm's
// arrival (lat) and from when each request's goroutine started (svc).
type stormLatencies struct{ lat, svc []time.Duration }

func (s *stormLatencies) add(o stormLatencies) {
	s.lat = append(s.lat, o.lat...)
	s.svc = append(s.svc, o.svc...)
}

// storm sends stormRequests concurrent requests for every customer, all
// arriving at one instant, and returns their latencies; it fails b on any
// answer but 200.
func (app *stormApp) storm(b *testing.B) stormLatencies {
	// Every storm starts from a collected heap, so that one storm does not
	// pay for the garbage of the work before it (a previous storm, or the
	// background refreshes that storm started).
	runtime.GC()
	n := len(app.clients)
	out := stormLatencies{lat: make([]time.Duration, n), svc: make([]time.Duration, n)}
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	var arrival time.Time // written before start is closed
	for i, c := range app.clients {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			if !c.get(app.handler) {
				failed.Add(1)
			}
			end := time.Now()
			out.lat[i] = end.Sub(arrival)
			out.svc[i] = end.Sub(t0)
		})
	}
	arrival = time.Now()
	close(start)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, len(out.lat))
	}
	return out
}

// awaitCalls waits (untimed) until the endpoint has had want calls.
func (app *stormApp) awaitCalls(b *testing.B, want int64) {
	deadline := time.Now().Add(time.Minute)
	for {
		got := app.ep.stats(b).Calls
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d refresh calls, want %d", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func p99(lat []time.Duration) time.Duration {
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// BenchmarkRefreshStormExpired: every token has expired; each storm must
// make exactly one refresh call per customer, every request answered 200,
// and its p99 latency (from the storm's arrival) stay within 3× the
// provider's own.
func BenchmarkRefreshStormExpired(b *testing.B) {
	app := newStormApp(b)
	app.clock.Advance(61 * time.Minute)
	app.storm(b) // warm-up: the connections to the provider are opened once
	st0 := app.ep.stats(b)
	calls := st0.Calls
	var all stormLatencies
	var cpu time.Duration // this process's, not the endpoint's
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		app.clock.Advance(61 * time.Minute)
		b.StartTimer()
		cpu0, _ := benchProcessCPU()
		all.add(app.storm(b))
		cpu1, _ := benchProcessCPU()
		cpu += cpu1 - cpu0
		calls += stormCustomers
		b.StopTimer()
		if got := app.ep.stats(b).Calls; got != calls {
			b.Fatalf("%d refresh calls after the storm, want %d (one per customer)", got, calls)
		}
		b.StartTimer()
	}
	st := app.ep.stats(b)
	if st.Reused != 0 {
		b.Fatalf("%d refresh tokens spent twice", st.Reused)
	}
	q := p99(all.lat)
	b.ReportMetric(float64(q)/1e6, "p99-ms")
	b.ReportMetric(float64(q)/float64(stormLatency), "p99/provider")
	b.ReportMetric(float64(p99(all.svc))/float64(stormLatency), "svc-p99/provider")
	b.ReportMetric(float64(st.Calls-st0.Calls)/float64(b.N), "refresh-calls/op")
	b.ReportMetric(float64(st.Conns-st0.Conns)/float64(b.N), "new-conns/op")
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
}

// BenchmarkRefreshStormValid: every token is within its refresh margin
// but still valid. Each op is a storm with no refresh due, then one where
// every token is due: its p99 latency (from the storm's arrival) must stay
// within 1.5× the first's (a valid token never waits for the refresh, and
// starting the background refreshes costs the requests little), and the
// background refreshes make exactly one call per customer.
func BenchmarkRefreshStormValid(b *testing.B) {
	app := newStormApp(b)
	app.clock.Advance(61 * time.Minute)
	app.storm(b) // warm-up: the connections to the provider are opened once
	calls := app.ep.stats(b).Calls
	var idle, due stormLatencies
	b.ResetTimer()
	for b.Loop() {
		idle.add(app.storm(b)) // nothing due
		b.StopTimer()
		app.clock.Advance(59*time.Minute + 30*time.Second) // in the margin, valid
		b.StartTimer()
		due.add(app.storm(b))
		b.StopTimer()
		calls += stormCustomers
		app.awaitCalls(b, calls)
		app.awaitIdle(b)
		if got := app.ep.stats(b).Calls; got != calls {
			b.Fatalf("%d refresh calls, want %d (one per customer)", got, calls)
		}
		// The new tokens were obtained at the clock's present time: the
		// next op's advance puts them in the margin again, still valid
		// (advancing here as well would make the next op's "due" storm
		// an expired one).
		b.StartTimer()
	}
	if r := app.ep.stats(b).Reused; r != 0 {
		b.Fatalf("%d refresh tokens spent twice", r)
	}
	qi, qd := p99(idle.lat), p99(due.lat)
	b.ReportMetric(float64(qi)/1e6, "p99-idle-ms")
	b.ReportMetric(float64(qd)/1e6, "p99-due-ms")
	b.ReportMetric(float64(qd)/float64(qi), "p99-due/idle")
	b.ReportMetric(float64(p99(due.svc))/float64(p99(idle.svc)), "svc-p99-due/idle")
}

// awaitIdle waits (untimed) until no refresh is running: every background
// refresh has stored its result.
func (app *stormApp) awaitIdle(b *testing.B) {
	deadline := time.Now().Add(time.Minute)
	for {
		app.auth.flights.mu.Lock()
		n := len(app.auth.flights.running)
		app.auth.flights.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d refreshes still running", n)
		}
		time.Sleep(time.Millisecond)
	}
}
