package oauthhttp_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/oauthhttp"
)

func TestTokenClient(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) })
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { followed.Store(true) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", oauthhttp.MaxResponseBytes+1)))
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"access_token":"a"}`) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := oauthhttp.TokenClient(nil)
	tests := []struct {
		name   string
		path   string
		status int
		err    error
	}{
		{name: "answer", path: "/ok", status: http.StatusOK},
		{name: "redirect not followed", path: "/redirect", status: http.StatusFound},
		{name: "oversized body refused", path: "/big", err: oauthhttp.ErrResponseTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Get(srv.URL + tt.path)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
	assert.False(t, followed.Load(), "a token call followed a redirect")
	assert.Equal(t, oauthhttp.DefaultTimeout, c.Timeout)
	assert.Equal(t, 3*time.Second, oauthhttp.TokenClient(&http.Client{Timeout: 3 * time.Second}).Timeout, "the caller's own timeout is kept")
}

// TestTokenClientReusesConnections: many concurrent token calls, then as
// many again, open few new connections the second time: the transport
// keeps its idle connections (the standard one keeps 2 per host).
func TestTokenClientReusesConnections(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived.Done()
		<-release
		_, _ = io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := oauthhttp.TokenClient(nil)
	const n = 50
	round := func() {
		arrived.Add(n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				resp, err := c.Get(srv.URL)
				if assert.NoError(t, err) {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		arrived.Wait() // all n in flight at once
		close(release)
		wg.Wait()
	}
	round()
	first := conns.Load()
	release = make(chan struct{})
	round()
	assert.EqualValues(t, n, first)
	assert.Equal(t, first, conns.Load(), "the second storm reused the first one's connections")
}

// source counts its calls and fails while failing is set.
type source struct {
	calls   atomic.Int32
	failing atomic.Bool
}

var errDown = errors.New("token endpoint down")

func (s *source) Token() (*oauth2.Token, error) {
	n := s.calls.Add(1)
	if s.failing.Load() {
		return nil, errDown
	}
	return &oauth2.Token{AccessToken: "t" + string(rune('0'+n)), ExpiresIn: 3600}, nil
}

type fakeClock = testkit.Clock

// TestCachedTokenSourceRemembersFailure: while the token endpoint fails
// and no cached token is usable, callers get the failure without a call
// each, for FailureMemory; a still-valid cached token keeps being served.
func TestCachedTokenSourceRemembersFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		haveToken bool // a token was cached before the failure
		advance   time.Duration
	}{
		{name: "no token yet"},
		{name: "cached token expired", haveToken: true, advance: 2 * time.Hour},
		{name: "cached token in its margin", haveToken: true, advance: 59*time.Minute + 30*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClockAt(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			src := &source{}
			cs := oauthhttp.CachedTokenSource(src, time.Minute, clock.Now)
			if tt.haveToken {
				_, err := cs.Token()
				require.NoError(t, err)
			}
			before := src.calls.Load()
			clock.Advance(tt.advance)
			src.failing.Store(true)
			stillValid := tt.haveToken && tt.advance < time.Hour
			for range 20 {
				tok, err := cs.Token()
				if stillValid {
					require.NoError(t, err)
					assert.Equal(t, "t1", tok.AccessToken)
				} else {
					require.ErrorIs(t, err, errDown)
				}
			}
			assert.Equal(t, before+1, src.calls.Load(), "one call while the failure is remembered")

			src.failing.Store(false)
			clock.Advance(oauthhttp.FailureMemory)
			tok, err := cs.Token()
			require.NoError(t, err)
			assert.NotEqual(t, "t1", tok.AccessToken)
			assert.Equal(t, before+2, src.calls.Load())
		})
	}
}

func TestBearerClientStaysOnItsOrigin(t *testing.T) {
	t.Parallel()
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization") != "")
	}))
	defer other.Close()
	var sameOrigin atomic.Value
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL, http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/landing", http.StatusFound)
		case "/landing":
			sameOrigin.Store(r.Header.Get("Authorization"))
		}
	}))
	defer origin.Close()
	c := oauthhttp.BearerClient(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "secret"}))

	resp, err := c.Get(origin.URL + "/here")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "Bearer secret", sameOrigin.Load(), "a same-origin redirect is followed with the token")

	resp, err = c.Get(origin.URL + "/away")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode, "a redirect to another origin is returned, not followed")
	assert.False(t, leaked.Load())
}
