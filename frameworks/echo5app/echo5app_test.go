package echo5app

import (
	"io"
	"net/http"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/frameworks/internal/fwtest"
	"github.com/shopsso/sso/providers/istores"
)

// withProbes adds the probe handlers to the protected group, written as an
// Echo app writes handlers.
func withProbes(p *fwtest.Probe) func(*echo.Group) {
	return func(g *echo.Group) {
		g.GET("/probe", func(c *echo.Context) error {
			p.Seen()
			return c.JSON(http.StatusOK, p.View(c.Request().Context()))
		})
		g.GET("/stream", func(c *echo.Context) error {
			p.Change(c.Request().Context())
			res := c.Response()
			rc := http.NewResponseController(res)
			res.Header().Set(echo.HeaderContentType, echo.MIMETextPlain)
			if err := rc.Flush(); err != nil {
				return err
			}
			if _, err := io.WriteString(res, fwtest.StreamFirst); err != nil {
				return err
			}
			if err := rc.Flush(); err != nil {
				return err
			}
			p.Wait(c.Request().Context())
			_, err := io.WriteString(res, fwtest.StreamLast)
			return err
		})
	}
}

// app is New with the probes.
func app(auth *sso.Auth, sm *scs.SessionManager, p *fwtest.Probe) http.Handler {
	return newHandler(auth, sm, withProbes(p))
}

func TestEcho5(t *testing.T) {
	fwtest.Run(t, app)
}

func TestErrorAfterSessionChange(t *testing.T) {
	tests := []struct {
		name        string
		app         fwtest.App
		wantCookies int
	}{
		{"LoadAndSave around Echo", app, 1},
		// Control: LoadAndSave as Echo middleware saves the session when
		// the handler returns, then again when Echo's error handler writes
		// the response through it.
		{"LoadAndSave as Echo middleware (the trap)", func(auth *sso.Auth, sm *scs.SessionManager, p *fwtest.Probe) http.Handler {
			e := newEcho(auth, sm, withProbes(p))
			e.Use(echo.WrapMiddleware(sm.LoadAndSave))
			return e
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := fwtest.Start(t, tt.app)
			c := e.LoggedIn(istores.Name)

			resp := e.Do(c, http.MethodPost, "/account/cart", fwtest.JSON)
			require.Equal(t, http.StatusConflict, resp.StatusCode)
			assert.Len(t, fwtest.SessionCookies(resp, e.Sessions.Cookie.Name), tt.wantCookies)

			resp = e.Do(c, http.MethodGet, "/account/me", fwtest.JSON)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "Your cart could not be saved.", fwtest.DecodeJSON[account](t, resp).Flash)
		})
	}
}
