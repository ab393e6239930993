package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/ssotest"
)

// TestCookieSecureOnlyLoopbackHTTP: the session cookie loses its Secure
// attribute only for a plain-http public URL on a loopback host; any other
// plain-http URL is refused at start unless INSECURE_COOKIE opts in.
func TestCookieSecureOnlyLoopbackHTTP(t *testing.T) {
	tests := []struct {
		name     string
		base     string
		insecure string
		secure   bool
		refused  bool
	}{
		{"https", "https://shop.example", "", true, false},
		{"https in capitals", "HTTPS://shop.example", "", true, false},
		{"http on 127.0.0.1", "http://127.0.0.1:8080", "", false, false},
		{"http on another loopback address", "http://127.0.0.2:8080", "", false, false},
		{"http on ::1", "http://[::1]:8080", "", false, false},
		{"http on localhost", "http://localhost:8080", "", false, false},
		{"http on a public host", "http://shop.example", "", false, true},
		{"http on a LAN address", "http://192.168.1.20:8080", "", false, true},
		{"http on a host named like loopback", "http://localhost.shop.example", "", false, true},
		{"http on a public host, opted in", "http://shop.example", "1", false, false},
		{"http on a public host, opted out", "http://shop.example", "0", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"BASE_URL": tt.base, "INSECURE_COOKIE": tt.insecure}
			s, err := settingsFromEnv(func(k string) string { return env[k] })
			if tt.refused {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "INSECURE_COOKIE=1")
				// The same rule holds for a public URL made from ADDR.
				_, err = newApp(settings{}, tt.base, slog.New(slog.DiscardHandler), deps{Stand: standIn(t)})
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			a, err := newApp(s, s.BaseURL, slog.New(slog.DiscardHandler), deps{Stand: standIn(t)})
			require.NoError(t, err)
			t.Cleanup(a.close)
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/istores/login", nil))
			cookie := rec.Header().Get("Set-Cookie")
			require.NotEmpty(t, cookie)
			assert.Equal(t, tt.secure, strings.Contains(cookie, "; Secure"), cookie)
		})
	}
	_, err := settingsFromEnv(func(k string) string { return map[string]string{"INSECURE_COOKIE": "maybe"}[k] })
	assert.Error(t, err)
}

func standIn(t *testing.T) *ssotest.Server {
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	return s
}

// TestProvidersConfiguredWholeOrNotAtAll: the stand-in is served only when
// no provider is configured; a provider with some of its settings is an
// error at start; a provider not configured at all is not served.
func TestProvidersConfiguredWholeOrNotAtAll(t *testing.T) {
	remote := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	t.Cleanup(remote.Close)
	ie, me := remote.Istores(), remote.Multicart()
	istoresEnv := map[string]string{"ISTORES_CLIENT_ID": ie.Client.ID, "ISTORES_CLIENT_SECRET": ie.Client.Secret,
		"ISTORES_AUTH_URL": ie.AuthURL, "ISTORES_TOKEN_URL": ie.TokenURL}
	multicartEnv := map[string]string{"MULTICART_CLIENT_ID": me.Client.ID, "MULTICART_AUTH_URL": me.AuthURL,
		"MULTICART_TOKEN_URL": me.TokenURL}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	tests := []struct {
		name    string
		env     map[string]string
		err     string          // refused at start with this text
		standIn bool            // serves the stand-in
		served  map[string]bool // login routes that answer
	}{
		{name: "nothing configured: the stand-in", env: nil, standIn: true,
			served: map[string]bool{"istores": true, "multicart": true}},
		{name: "both configured", env: merge(istoresEnv, multicartEnv),
			served: map[string]bool{"istores": true, "multicart": true}},
		{name: "only Istores: no stand-in for Multicart", env: istoresEnv,
			served: map[string]bool{"istores": true, "multicart": false}},
		{name: "only Multicart: no stand-in for Istores", env: multicartEnv,
			served: map[string]bool{"istores": false, "multicart": true}},
		{name: "Istores without its secret", env: map[string]string{"ISTORES_CLIENT_ID": "id"},
			err: "Istores is half configured: ISTORES_CLIENT_ID set but ISTORES_CLIENT_SECRET missing"},
		{name: "Istores URLs only", env: map[string]string{"ISTORES_TOKEN_URL": ie.TokenURL},
			err: "ISTORES_CLIENT_ID, ISTORES_CLIENT_SECRET missing"},
		{name: "Multicart secret only, Istores whole", env: merge(istoresEnv, map[string]string{"MULTICART_CLIENT_SECRET": "s"}),
			err: "Multicart is half configured: MULTICART_CLIENT_SECRET set but MULTICART_CLIENT_ID missing"},
		{name: "Multicart issuer only", env: map[string]string{"MULTICART_ISSUER": "https://id.example"},
			err: "MULTICART_CLIENT_ID missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := settingsFromEnv(func(k string) string { return tt.env[k] })
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.standIn, s.usesStandIn())
			d := deps{}
			if s.usesStandIn() {
				d.Stand = standIn(t)
			}
			a, err := newApp(s, "http://127.0.0.1:1", slog.New(slog.DiscardHandler), d)
			require.NoError(t, err)
			t.Cleanup(a.close)
			for p, want := range tt.served {
				rec := httptest.NewRecorder()
				a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/"+p+"/login", nil))
				if want {
					assert.Equal(t, http.StatusFound, rec.Code, p)
					loc := rec.Header().Get("Location")
					if !tt.standIn {
						assert.True(t, strings.HasPrefix(loc, remote.URL()), "%s goes to the configured provider, not a stand-in: %s", p, loc)
					}
				} else {
					assert.Equal(t, http.StatusNotFound, rec.Code, "%s is not served", p)
				}
			}
			// The home page and the chooser link exactly the providers served.
			for _, page := range []string{"/", loginPath} {
				rec := httptest.NewRecorder()
				a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, page, nil))
				require.Equal(t, http.StatusOK, rec.Code, page)
				for p, want := range tt.served {
					assert.Equal(t, want, strings.Contains(rec.Body.String(), `href="/auth/`+p+`/login`), "%s links %s", page, p)
				}
			}
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/me", nil))
			if tt.served["multicart"] {
				assert.Equal(t, http.StatusUnauthorized, rec.Code, "GET /api/me asks for a Multicart token")
			} else {
				assert.Equal(t, http.StatusNotFound, rec.Code, "GET /api/me needs Multicart")
			}
		})
	}
}

// TestRunSaysLoudlyItServesTheStandIn runs the example with no provider
// configured: it starts, and its log says in capitals that anyone can log
// in without a password.
func TestRunSaysLoudlyItServesTheStandIn(t *testing.T) {
	logs := &logSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		done <- run(ctx, settings{Addr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(logs, nil)),
			func(url string) { ready <- url })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not become ready")
	}
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "NO PROVIDER IS CONFIGURED")
	assert.Contains(t, logs.String(), "WITHOUT A PASSWORD")

	// A half-configured provider stops run before it listens.
	err := run(context.Background(), settings{Addr: "127.0.0.1:0", IstoresClientID: "id"}, slog.New(slog.DiscardHandler),
		func(string) { t.Error("a half-configured example must not start") })
	assert.ErrorContains(t, err, "half configured")
}

// TestServerTimeouts: every phase of a request has a deadline.
func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	assert.Positive(t, srv.ReadHeaderTimeout)
	assert.Positive(t, srv.ReadTimeout)
	assert.Positive(t, srv.WriteTimeout)
	assert.Positive(t, srv.IdleTimeout)
	assert.GreaterOrEqual(t, srv.WriteTimeout, 30*time.Second, "room for a token call and a refresh")
}
