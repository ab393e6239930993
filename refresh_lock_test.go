package sso_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/oauthhttp"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// getOn sends an API-style GET for path to the instance at base, with c's
// cookies (every instance listens on 127.0.0.1, so the jar shares them).
func getOn(t *testing.T, c *http.Client, base, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRefreshAcrossInstancesExactlyOnce: three instances share one session
// store and one Locker, against a provider that revokes a grant whose
// refresh token is spent twice. Concurrent requests of one customer spread
// over all three, over three consecutive expiries: exactly one refresh call
// per expiry, every request served, nobody logged out.
func TestRefreshAcrossInstancesExactlyOnce(t *testing.T) {
	h := newHarness(t)
	c := h.login(multicart.Name)
	instances := []string{h.app.URL, h.second().URL, h.second().URL}
	seenBefore := h.currentToken(c)

	for expiry := 1; expiry <= 3; expiry++ {
		t.Run(fmt.Sprintf("expiry %d", expiry), func(t *testing.T) {
			h.clock.Advance(61 * time.Minute)
			if expiry == 2 {
				// A slow provider keeps every request waiting on the lock.
				h.stand.Inject(ssotest.Failure{Grant: ssotest.GrantRefreshToken, Delay: 200 * time.Millisecond})
				defer h.stand.Reset()
			}
			const n = 60
			statuses := make([]int, n)
			bodies := make([]string, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					statuses[i], bodies[i] = getOn(t, c, instances[i%len(instances)], "/private")
				})
			}
			close(start)
			wg.Wait()
			for i := range n {
				require.Equal(t, http.StatusOK, statuses[i], "request %d on instance %d: %s", i, i%len(instances), bodies[i])
			}
			assert.Equal(t, expiry, h.refreshCalls(), "exactly one refresh call per expiry")
			assert.Zero(t, h.stand.Reuses(), "no refresh token was spent twice")
			now := h.currentToken(c)
			assert.NotEqual(t, seenBefore, now)
			seenBefore = now
		})
	}
	assert.NotContains(t, h.logs.String(), "request refused")
}

// gatedProvider holds every refresh until its gate opens; arrived, if
// set, is told when a refresh reaches the gate.
type gatedProvider struct {
	*multicart.Provider
	gate    <-chan struct{}
	arrived chan<- struct{}
}

func (p gatedProvider) Refresh(ctx context.Context, rt string) (*oauth2.Token, error) {
	if p.arrived != nil {
		p.arrived <- struct{}{}
	}
	select {
	case <-p.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return p.Provider.Refresh(ctx, rt)
}

// TestValidTokenNeverWaits: while one refresh of a still-valid token is
// held up at the provider, every request is served at once with the old
// token, and only one refresh call is made.
func TestValidTokenNeverWaits(t *testing.T) {
	gate := make(chan struct{})
	h := newHarness(t, withMulticart(func(p *multicart.Provider) sso.Provider { return gatedProvider{p, gate, nil} }))
	c := h.login(multicart.Name)
	old := h.currentToken(c)
	h.clock.Advance(59*time.Minute + 30*time.Second) // in the margin, valid
	for range 20 {
		assert.Equal(t, old, h.currentToken(c), "served at once with the valid token")
	}
	assert.Zero(t, h.refreshCalls(), "the one refresh is still held at the gate")
	close(gate)
	h.awaitToken(c, old)
	assert.Equal(t, 1, h.refreshCalls())
}

// dyingLocker takes its locks with a short lease and never releases them,
// as an instance that dies while it holds the lock.
type dyingLocker struct {
	sso.Locker
	lease time.Duration
}

func (d dyingLocker) Lock(ctx context.Context, key string, lease time.Duration) (func(), error) {
	if !isRefreshLock(key) {
		return d.Locker.Lock(ctx, key, lease)
	}
	_, err := d.Locker.Lock(ctx, key, d.lease)
	return func() {}, err
}

// signalLocker tells entered when a Lock call starts.
type signalLocker struct {
	sso.Locker
	entered chan<- struct{}
}

func (s signalLocker) Lock(ctx context.Context, key string, lease time.Duration) (func(), error) {
	if !isRefreshLock(key) {
		return s.Locker.Lock(ctx, key, lease)
	}
	select {
	case s.entered <- struct{}{}:
	default:
	}
	return s.Locker.Lock(ctx, key, lease)
}

// panicProvider panics in Refresh, as a provider (or an instance dying in
// the middle of its call) might.
type panicProvider struct{ *multicart.Provider }

func (panicProvider) Refresh(context.Context, string) (*oauth2.Token, error) {
	panic("provider exploded")
}

// TestRefreshLockHolderDies: an instance that dies while holding a
// session's refresh lock holds it until the lease passes; then the next
// instance re-reads the session first. If the dead holder stored its
// result, that is used and the provider is not called again; if it died
// before, the next instance makes the one provider call.
func TestRefreshLockHolderDies(t *testing.T) {
	const lease = 500 * time.Millisecond
	t.Run("after storing its result", func(t *testing.T) {
		gate, arrived := make(chan struct{}), make(chan struct{}, 1)
		shared := sso.NewLocalLocker()
		h := newHarness(t,
			withMulticart(func(p *multicart.Provider) sso.Provider { return gatedProvider{p, gate, arrived} }),
			withConfig(func(cfg *sso.Config) { cfg.Locker = dyingLocker{shared, lease} }))
		entered := make(chan struct{}, 1)
		b := h.second(func(cfg *sso.Config) { cfg.Locker = signalLocker{shared, entered} })
		c := h.login(multicart.Name)
		old := h.currentToken(c)
		h.clock.Advance(61 * time.Minute)

		aDone := make(chan int, 1)
		go func() { s, _ := getOn(t, c, h.app.URL, "/private"); aDone <- s }()
		// A holds the lock, its provider call held at the gate; B loads the
		// stale session and waits for the lock.
		<-arrived
		bDone := make(chan string, 1)
		go func() {
			s, body := getOn(t, c, b.URL, "/private")
			bDone <- fmt.Sprint(s, " ", body)
		}()
		<-entered
		close(gate) // A refreshes, stores, and dies holding the lock
		require.Equal(t, http.StatusOK, <-aDone)
		got := <-bDone
		require.True(t, strings.HasPrefix(got, "200 "), got)
		assert.Equal(t, 1, h.refreshCalls(), "B used the result A stored")
		assert.Zero(t, h.stand.Reuses())
		assert.NotEqual(t, old, h.currentToken(c))
	})
	t.Run("before calling the provider", func(t *testing.T) {
		shared := sso.NewLocalLocker()
		h := newHarness(t,
			withMulticart(func(p *multicart.Provider) sso.Provider { return panicProvider{p} }),
			withConfig(func(cfg *sso.Config) { cfg.Locker = dyingLocker{shared, lease} }))
		b := h.second(func(cfg *sso.Config) { cfg.Locker = shared })
		c := h.login(multicart.Name)
		old := h.currentToken(c)
		h.clock.Advance(61 * time.Minute)

		status, _ := getOn(t, c, h.app.URL, "/private")
		require.Equal(t, http.StatusInternalServerError, status, "A died in its refresh")
		start := time.Now()
		status, body := getOn(t, c, b.URL, "/private")
		require.Equal(t, http.StatusOK, status, body)
		assert.GreaterOrEqual(t, time.Since(start), lease/2, "B waited for the dead holder's lease")
		assert.Equal(t, 1, h.refreshCalls(), "B made the one provider call")
		assert.Zero(t, h.stand.Reuses())
		assert.NotEqual(t, old, h.currentToken(c))
	})
}

// isRefreshLock tells the locks of a refresh from the other locks an Auth
// takes through the same Locker (the store's, around commits).
func isRefreshLock(key string) bool { return strings.HasPrefix(key, "shopsso/refresh/") }

// downLocker fails every refresh lock, as a lock store that cannot be
// reached (other locks pass through).
type downLocker struct{ sso.Locker }

var errLockDown = errors.New("lock store down")

func (d downLocker) Lock(ctx context.Context, key string, lease time.Duration) (func(), error) {
	if !isRefreshLock(key) {
		return d.Locker.Lock(ctx, key, lease)
	}
	return nil, errLockDown
}

// TestRefreshLockUnavailable: when the lock store cannot be reached, no
// provider call is made (another instance might be spending the same
// refresh token). A still-valid token is served; an expired one is
// answered 503 with Retry-After, as a store that is down, and logged once
// per backoff interval.
func TestRefreshLockUnavailable(t *testing.T) {
	h := newHarness(t, withConfig(func(cfg *sso.Config) { cfg.Locker = downLocker{sso.NewLocalLocker()} }))
	c := h.login(multicart.Name)
	old := h.currentToken(c)

	h.clock.Advance(59*time.Minute + 30*time.Second)
	for range 5 {
		assert.Equal(t, old, h.currentToken(c), "a valid token is served")
	}
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "refresh lock unavailable") },
		5*time.Second, 5*time.Millisecond)

	h.clock.Advance(time.Minute) // expired, past the backoff
	for range 5 {
		resp := h.getJSON(c, "/private")
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	}
	assert.Zero(t, h.refreshCalls(), "never a provider call without the lock")
	assert.Equal(t, 2, strings.Count(h.logs.String(), "refresh lock unavailable"), "one record per backoff interval")
}

// panicStore and panicCodec panic on Commit and Encode while armed.
type panicStore struct {
	scs.Store
	armed *atomic.Bool
}

func (s panicStore) Commit(token string, b []byte, expiry time.Time) error {
	if s.armed.Load() {
		panic("store exploded")
	}
	return s.Store.Commit(token, b, expiry)
}

type panicCodec struct {
	scs.Codec
	armed *atomic.Bool
}

func (c panicCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	if c.armed.Load() {
		panic("codec exploded")
	}
	return c.Codec.Encode(deadline, values)
}

// panickyProvider panics in Refresh while armed.
type panickyProvider struct {
	*multicart.Provider
	armed *atomic.Bool
}

func (p panickyProvider) Refresh(ctx context.Context, rt string) (*oauth2.Token, error) {
	if p.armed.Load() {
		panic("provider exploded")
	}
	return p.Provider.Refresh(ctx, rt)
}

// TestRefreshPanicFailsOneRequest: a panic in a hook or the provider
// during a refresh fails the requests waiting on it with 500, logged once
// with its stack; a panicking codec is a codec error (the refreshed token
// is still served, from memory). (A panicking store is a store that is
// down: the store guard's tests, and TestCallbackPanicFailsOneRequest.)
// In every case the server keeps serving, and once the cause
// is gone the customer's login refreshes normally.
func TestRefreshPanicFailsOneRequest(t *testing.T) {
	tests := []struct {
		name       string
		opts       func(armed *atomic.Bool) harnessOption
		wantStatus int
		wantLog    string
	}{
		{name: "OnRefresh hook", opts: func(armed *atomic.Bool) harnessOption {
			return withConfig(func(cfg *sso.Config) {
				cfg.OnRefresh = func(context.Context, sso.LoginInfo) {
					if armed.Load() {
						panic("hook exploded")
					}
				}
			})
		}, wantStatus: http.StatusInternalServerError, wantLog: "panic during refresh"},
		{name: "provider", opts: func(armed *atomic.Bool) harnessOption {
			return withMulticart(func(p *multicart.Provider) sso.Provider { return panickyProvider{p, armed} })
		}, wantStatus: http.StatusInternalServerError, wantLog: "panic during refresh"},
		{name: "codec", opts: func(armed *atomic.Bool) harnessOption {
			return withSessions(func(sm *scs.SessionManager) { sm.Codec = panicCodec{sm.Codec, armed} })
		}, wantStatus: http.StatusOK, wantLog: "panic in the session codec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			armed := new(atomic.Bool)
			h := newHarness(t, tt.opts(armed))
			c := h.login(multicart.Name)
			h.currentToken(c)
			h.clock.Advance(61 * time.Minute)

			armed.Store(true)
			status, body := getOn(t, c, h.app.URL, "/private")
			armed.Store(false)
			logs := h.logs.String()
			assert.Equal(t, tt.wantStatus, status, body)
			assert.Equal(t, 1, strings.Count(logs, tt.wantLog), logs)
			if strings.HasPrefix(tt.wantLog, "panic") {
				assert.Contains(t, logs, "stack=", "the panic is logged with its stack")
			}

			// The server keeps serving: other pages, other customers.
			status, _ = getOn(t, h.browser(), h.app.URL, "/")
			assert.Equal(t, http.StatusOK, status)
			h.currentToken(h.login(multicart.Name))

			h.clock.Advance(time.Second) // past the backoff
			status, body = getOn(t, c, h.app.URL, "/private")
			assert.Equal(t, http.StatusOK, status, body)
		})
	}
}

// exchangePanics panics in Exchange while armed.
type exchangePanics struct {
	*multicart.Provider
	armed *atomic.Bool
}

func (p exchangePanics) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	if p.armed.Load() {
		panic("provider exploded")
	}
	return p.Provider.Exchange(ctx, code, verifier)
}

// TestCallbackPanicFailsOneRequest: a panic in OnLogin or the provider
// while a callback completes a login answers that callback 500, logged
// with its stack; a panicking store is a store that is down (503, nothing
// stored) and a panicking codec fails the callback (500, logged with its
// stack). The server keeps serving, logins included.
func TestCallbackPanicFailsOneRequest(t *testing.T) {
	tests := []struct {
		name       string
		opts       func(armed *atomic.Bool) harnessOption
		wantStatus int
		wantLog    string
	}{
		{name: "OnLogin hook", opts: func(armed *atomic.Bool) harnessOption {
			return withConfig(func(cfg *sso.Config) {
				cfg.OnLogin = func(context.Context, sso.LoginInfo) error {
					if armed.Load() {
						panic("hook exploded")
					}
					return nil
				}
			})
		}, wantStatus: http.StatusInternalServerError, wantLog: "panic during the callback"},
		{name: "provider", opts: func(armed *atomic.Bool) harnessOption {
			return withMulticart(func(p *multicart.Provider) sso.Provider { return exchangePanics{p, armed} })
		}, wantStatus: http.StatusInternalServerError, wantLog: "panic during the callback"},
		{name: "store", opts: func(armed *atomic.Bool) harnessOption {
			return withSessions(func(sm *scs.SessionManager) { sm.Store = panicStore{sm.Store, armed} })
		}, wantStatus: http.StatusServiceUnavailable, wantLog: "session store unavailable"},
		{name: "codec", opts: func(armed *atomic.Bool) harnessOption {
			return withSessions(func(sm *scs.SessionManager) { sm.Codec = panicCodec{sm.Codec, armed} })
		}, wantStatus: http.StatusInternalServerError, wantLog: "panic in the session codec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			armed := new(atomic.Bool)
			h := newHarness(t, tt.opts(armed))
			c := h.browser()
			cb := h.startLogin(c, multicart.Name, "/private")
			armed.Store(true)
			resp := h.get(noFollow(c), cb.String())
			armed.Store(false)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			logs := h.logs.String()
			assert.Contains(t, logs, tt.wantLog)
			if strings.HasPrefix(tt.wantLog, "panic") {
				assert.Contains(t, logs, "stack=", "the panic is logged with its stack")
			}
			assertLoggedOut(t, h, c)

			// The server keeps serving, logins included.
			status, _ := getOn(t, h.browser(), h.app.URL, "/")
			assert.Equal(t, http.StatusOK, status)
			h.currentToken(h.login(multicart.Name))
		})
	}
}

// countingProvider records how many refresh calls run at once.
type countingProvider struct {
	*multicart.Provider
	now, most *atomic.Int32
}

func (p countingProvider) Refresh(ctx context.Context, rt string) (*oauth2.Token, error) {
	n := p.now.Add(1)
	defer p.now.Add(-1)
	for {
		m := p.most.Load()
		if n <= m || p.most.CompareAndSwap(m, n) {
			break
		}
	}
	return p.Provider.Refresh(ctx, rt)
}

// TestMaxRefreshesQueues: with MaxRefreshes 1, the refreshes of several
// customers whose tokens expired together run one at a time, and every
// request is served (queued, not refused).
func TestMaxRefreshesQueues(t *testing.T) {
	now, most := new(atomic.Int32), new(atomic.Int32)
	h := newHarness(t,
		withConfig(func(cfg *sso.Config) { cfg.MaxRefreshes = 1 }),
		withMulticart(func(p *multicart.Provider) sso.Provider { return countingProvider{p, now, most} }))
	const customers = 6
	clients := make([]*http.Client, customers)
	for i := range clients {
		clients[i] = h.login(multicart.Name)
	}
	h.clock.Advance(61 * time.Minute)
	h.stand.Inject(ssotest.Failure{Grant: ssotest.GrantRefreshToken, Delay: 50 * time.Millisecond})
	defer h.stand.Reset()
	statuses := make([]int, customers*3)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() { statuses[i], _ = getOn(t, clients[i%customers], h.app.URL, "/private") })
	}
	wg.Wait()
	for i, s := range statuses {
		assert.Equal(t, http.StatusOK, s, "request %d", i)
	}
	assert.Equal(t, customers, h.refreshCalls(), "one refresh per customer")
	assert.EqualValues(t, 1, most.Load(), "never more than MaxRefreshes provider calls at once")
}

// TestTokenPoolKeepsEveryRefreshConnection: the token clients' transport
// keeps at least as many idle connections as an Auth makes refresh calls
// at once by default, so the connections of one storm serve the next.
func TestTokenPoolKeepsEveryRefreshConnection(t *testing.T) {
	assert.GreaterOrEqual(t, oauthhttp.MaxIdleConnsPerHost, sso.DefaultMaxRefreshes)
}
