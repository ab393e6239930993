package testkit_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

func TestClock(t *testing.T) {
	t.Parallel()
	c := testkit.NewClock()
	start := c.Now()
	if start.Nanosecond() != 0 {
		t.Errorf("start %v is not a whole second", start)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Advance(time.Second) })
	}
	wg.Wait()
	if got := c.Now().Sub(start); got != 10*time.Second {
		t.Errorf("advanced %v, want 10s", got)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := testkit.NewClockAt(at).Now(); !got.Equal(at) {
		t.Errorf("NewClockAt(%v).Now() = %v", at, got)
	}
}

func TestLogBuffer(t *testing.T) {
	t.Parallel()
	var l testkit.LogBuffer
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { fmt.Fprintf(&l, "line %d\n", i) })
	}
	wg.Wait()
	if n := strings.Count(l.String(), "\n"); n != 20 {
		t.Errorf("%d lines, want 20", n)
	}
}

func TestBrowserKeepsCookiesAndNoFollowStops(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "k", Value: "v"})
			http.Redirect(w, r, "/echo", http.StatusFound)
			return
		}
		c, _ := r.Cookie("k")
		if c != nil {
			fmt.Fprint(w, c.Value)
		}
	}))
	t.Cleanup(srv.Close)
	b := testkit.Browser(t)
	resp, err := b.Get(srv.URL + "/set")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "v" {
		t.Errorf("followed redirect carried cookie %q, want v", body)
	}
	resp, err = testkit.NoFollow(b).Get(srv.URL + "/set")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("NoFollow answered %d, want 302", resp.StatusCode)
	}
}

func TestProviders(t *testing.T) {
	t.Parallel()
	stand := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(stand.Close)
	ic, mc := testkit.ProviderConfigs(stand, "http://app.test")
	if ic.AuthURL != stand.Istores().AuthURL || mc.TokenURL != stand.Multicart().TokenURL {
		t.Errorf("configs do not point at the stand-in: %+v %+v", ic, mc)
	}
	if ic.RedirectURL != "http://app.test/auth/istores/callback" || mc.RedirectURL != "http://app.test/auth/multicart/callback" {
		t.Errorf("redirect URLs %q %q", ic.RedirectURL, mc.RedirectURL)
	}
	ist, mcp := testkit.Providers(t, stand, "http://app.test", func(ic *istores.Config, mc *multicart.Config) {
		ic.Scopes = []string{istores.ScopeProductsRead}
		mc.Scopes = []string{multicart.ScopeOpenID}
	})
	if ist.Name() != istores.Name || mcp.Name() != multicart.Name {
		t.Errorf("names %q %q", ist.Name(), mcp.Name())
	}
	if got := mcp.RequestedScopes(); len(got) != 1 || got[0] != multicart.ScopeOpenID {
		t.Errorf("edit not applied: multicart scopes %v", got)
	}
}
