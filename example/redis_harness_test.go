package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/shopsso/sso/internal/testenv"
	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/ssotest"
)

// requireExternal is the repository's one rule for tests that need
// something outside Go: skip loudly, or fail under SHOPSSO_REQUIRE_EXTERNAL=1
// (see [testenv.RequireExternal]).
func requireExternal(t testing.TB, what string, found bool) {
	t.Helper()
	testenv.RequireExternal(t, what, found)
}

// redisServer is a private redis-server a test can stop, pause, resume and
// start again on the same port.
type redisServer struct {
	t       *testing.T
	persist bool // append-only file, fsynced on every write: a restart keeps the sessions
	path    string
	port    int
	dir     string
	url     string
	out     *logSink
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startRedisServer starts a private redis-server on a free loopback port,
// with persistence when persist is true (else none). It is killed when the
// test ends.
func startRedisServer(t *testing.T, persist bool) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	requireExternal(t, "redis-server (looked up on PATH)", err == nil)
	s := &redisServer{t: t, persist: persist, path: path, dir: t.TempDir(), out: &logSink{}}
	t.Cleanup(s.kill)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freeLoopbackPort(); err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		if lastErr = s.start(); lastErr == nil {
			s.url = fmt.Sprintf("redis://127.0.0.1:%d/0", s.port)
			return s
		}
		// most likely the port was taken in between: try another
	}
	t.Fatalf("redis-server would not start: %v", lastErr)
	return nil
}

// freeLoopbackPort returns a port that was free on 127.0.0.1 a moment ago.
func freeLoopbackPort() (int, error) { return testenv.FreeLoopbackPort() }

// start runs redis-server on s.port and waits until it answers PING.
func (s *redisServer) start() error {
	aof := []string{"--appendonly", "no"}
	if s.persist {
		aof = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	cmd := exec.Command(s.path, append([]string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--save", "",
		"--dir", s.dir,
	}, aof...)...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.port), MaxRetries: -1})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited on port %d: %s", s.port, strings.TrimSpace(s.out.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d did not answer PING within 10s (last: %v): %s",
				s.port, err, strings.TrimSpace(s.out.String()))
		}
	}
}

// kill stops the server at once (a crash: nothing is saved, it has no
// persistence anyway). A paused server is killed too.
func (s *redisServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// restart starts the server again on the same port (with the sessions it
// had when persist is set).
func (s *redisServer) restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("restarting redis-server: %v", err)
	}
}

// signal sends sig (SIGSTOP pauses the server, SIGCONT resumes it).
func (s *redisServer) signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signalling redis-server: %v", err)
	}
}

// The shared test support of internal/testkit: the fake clock shared by
// the stand-in and every instance, and a log (and process output) sink
// safe for concurrent writers.
type (
	sharedClock = testkit.Clock
	logSink     = testkit.LogBuffer
)

func newSharedClock() *sharedClock { return testkit.NewClock() }

// instanceHeader tells the test load balancer which instance ("a", "b",
// "c") must serve a request; without it the balancer takes them in turn.
const instanceHeader = "X-Test-Instance"

// servedByHeader is set by the balancer on every response: the instance
// that served it.
const servedByHeader = "X-Test-Served-By"

// instanceNames are the instances of a cluster of two, the usual size.
var instanceNames = [2]string{"a", "b"}

// clusterNames names the instances of a cluster, in order.
var clusterNames = []string{"a", "b", "c"}

// redisCluster is instances of the example (two unless said otherwise)
// sharing one session store (Redis, or PostgreSQL), one stand-in and one
// fake clock, behind a test load balancer at one public URL (as behind a
// real one, every instance uses that URL as its base).
type redisCluster struct {
	t           *testing.T
	redis       *redisServer // nil on PostgreSQL
	redisURL    string
	databaseURL string
	clock       *sharedClock
	stand       *ssotest.Server
	logs        *logSink
	names       []string
	inst        []*app
	served      []atomic.Int64
	next        atomic.Uint64
	lb          *httptest.Server
	tr          *http.Transport
}

func newRedisCluster(t *testing.T) *redisCluster {
	t.Helper()
	return newRedisClusterOn(t, startRedisServer(t, false), nil)
}

// newRedisClusterWith is newRedisCluster with each instance's settings
// adjusted by configure (instance 0 is "a"), when it is not nil.
func newRedisClusterWith(t *testing.T, configure func(instance int, s *settings)) *redisCluster {
	t.Helper()
	return newRedisClusterOn(t, startRedisServer(t, false), configure)
}

// newRedisClusterOn is newRedisClusterWith on the given Redis.
func newRedisClusterOn(t *testing.T, srv *redisServer, configure func(instance int, s *settings)) *redisCluster {
	t.Helper()
	c := newCluster(t, settings{RedisURL: srv.url}, configure)
	c.redis = srv
	return c
}

// newPostgresCluster is the instances sharing a new, empty database of the
// test binary's PostgreSQL server (DATABASE_URL): they create the sessions
// table themselves, as on a fresh database.
func newPostgresCluster(t *testing.T) *redisCluster {
	t.Helper()
	return newCluster(t, settings{DatabaseURL: testenv.StartPostgres(t).NewDatabase(t)}, nil)
}

// newCluster starts two instances with the store settings of store (a
// redisCluster, whichever the store), each adjusted by configure when it is
// not nil.
func newCluster(t *testing.T, store settings, configure func(instance int, s *settings)) *redisCluster {
	t.Helper()
	return newClusterOf(t, len(instanceNames), store, configure)
}

// newClusterOf is newCluster with n instances (at most len(clusterNames)).
func newClusterOf(t *testing.T, n int, store settings, configure func(instance int, s *settings)) *redisCluster {
	t.Helper()
	c := &redisCluster{t: t, redisURL: store.RedisURL, databaseURL: store.DatabaseURL, clock: newSharedClock(), logs: &logSink{},
		names: clusterNames[:n], inst: make([]*app, n), served: make([]atomic.Int64, n)}
	c.stand = ssotest.NewServer(ssotest.Options{AutoApprove: true, Now: c.clock.Now})
	t.Cleanup(c.stand.Close)

	c.lb = httptest.NewUnstartedServer(http.HandlerFunc(c.route))
	base := "http://" + c.lb.Listener.Addr().String()
	logger := slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i, name := range c.names {
		s := store
		if configure != nil {
			configure(i, &s)
		}
		a, err := newApp(s, base, logger.With("instance", name),
			deps{Stand: c.stand, Now: c.clock.Now})
		if err != nil {
			t.Fatalf("instance %s: %v", name, err)
		}
		t.Cleanup(a.close)
		c.inst[i] = a
	}
	c.lb.Start()
	t.Cleanup(c.lb.Close)
	c.tr = &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(c.tr.CloseIdleConnections)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app logs:\n%s", c.logs.String())
		}
	})
	return c
}

// route is the load balancer: it sends the request to the instance the
// test asked for, or else to each instance in turn.
func (c *redisCluster) route(w http.ResponseWriter, r *http.Request) {
	i := int(c.next.Add(1) % uint64(len(c.names)))
	if want := r.Header.Get(instanceHeader); want != "" {
		if i = slices.Index(c.names, want); i < 0 {
			http.Error(w, "bad "+instanceHeader, http.StatusBadRequest)
			return
		}
	}
	c.served[i].Add(1)
	w.Header().Set(servedByHeader, c.names[i])
	c.inst[i].handler.ServeHTTP(w, r)
}

// pinTransport sends every request with the instance header set.
type pinTransport struct {
	base     http.RoundTripper
	instance string
}

func (p pinTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.instance == "" {
		return p.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set(instanceHeader, p.instance)
	return p.base.RoundTrip(r)
}

// jar returns an empty cookie jar: one browser.
func (c *redisCluster) jar() http.CookieJar {
	jar, err := cookiejar.New(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return jar
}

// via returns a client that uses jar's cookies and goes to instance
// ("a", "b", or "" for alternating), following redirects like a browser.
func (c *redisCluster) via(jar http.CookieJar, instance string) *http.Client {
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: pinTransport{base: c.tr, instance: instance}}
}

// login logs a new browser in through provider on instance and returns
// its cookie jar. The login lands on /me, whose answer is checked.
func (c *redisCluster) login(provider, instance string) http.CookieJar {
	c.t.Helper()
	jar := c.jar()
	req, err := http.NewRequest(http.MethodGet, c.lb.URL+"/auth/"+provider+"/login?return_to=/me", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	resp, err := c.via(jar, instance).Do(req)
	if err != nil {
		c.t.Fatalf("login through %s on %s: %v", provider, instance, err)
	}
	defer resp.Body.Close()
	var me meResponse
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("login through %s on %s landed with %s", provider, instance, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		c.t.Fatalf("login landing: %v", err)
	}
	if me.Provider != provider || me.Subject != "customer-1" {
		c.t.Fatalf("after login through %s: /me says provider %q subject %q", provider, me.Provider, me.Subject)
	}
	if got := resp.Header.Get(servedByHeader); got != instance {
		c.t.Fatalf("login landing served by %q, want %q", got, instance)
	}
	return jar
}

// meResult is one answer of GET /me.
type meResult struct {
	status   int
	servedBy string
	me       meResponse
	err      error
}

// jti is the ID of the access token the answer was made with.
func (r meResult) jti() string { s, _ := r.me.Claims["jti"].(string); return s }

// get sends an API-style GET /me (Accept: application/json) with client.
func getMe(client *http.Client, url string) meResult {
	req, err := http.NewRequest(http.MethodGet, url+"/me", nil)
	if err != nil {
		return meResult{err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return meResult{err: err}
	}
	defer resp.Body.Close()
	r := meResult{status: resp.StatusCode, servedBy: resp.Header.Get(servedByHeader)}
	if resp.StatusCode == http.StatusOK {
		r.err = json.NewDecoder(resp.Body).Decode(&r.me)
	}
	return r
}

func (c *redisCluster) me(jar http.CookieJar, instance string) meResult {
	return getMe(c.via(jar, instance), c.lb.URL)
}

// sessionKeys returns how many live scs sessions are in the store: a logged-out
// session's record is a tombstone (a value starting with a zero byte,
// which no codec writes) until the session would have expired.
func (c *redisCluster) sessionKeys() int {
	c.t.Helper()
	if c.databaseURL != "" {
		return c.sessionRows()
	}
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		c.t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	keys, err := client.Keys(context.Background(), "scs:session:*").Result()
	if err != nil {
		c.t.Fatalf("listing Redis keys: %v", err)
	}
	live := 0
	for _, k := range keys {
		v, err := client.Get(context.Background(), k).Bytes()
		if err == nil && !bytes.HasPrefix(v, []byte("\x00shopsso:")) {
			live++
		}
	}
	return live
}

// sessionRows returns how many live sessions the sessions table of
// PostgreSQL holds (tombstones left out, as in sessionKeys).
func (c *redisCluster) sessionRows() int {
	c.t.Helper()
	conn, err := pgx.Connect(context.Background(), c.databaseURL)
	if err != nil {
		c.t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(),
		`SELECT count(*) FROM sessions WHERE expiry > now() AND substring(data from 1 for 1) <> '\x00'::bytea`).Scan(&n)
	if err != nil {
		c.t.Fatalf("counting sessions: %v", err)
	}
	return n
}
