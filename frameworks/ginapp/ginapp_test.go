package ginapp

import (
	"net/http"
	"os"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/frameworks/internal/fwtest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// app is New with the probe handlers in the protected group, written as a
// Gin app writes handlers.
func app(auth *sso.Auth, sm *scs.SessionManager, p *fwtest.Probe) http.Handler {
	return newHandler(auth, sm, func(g *gin.RouterGroup) {
		g.GET("/probe", func(c *gin.Context) {
			p.Seen()
			c.JSON(http.StatusOK, p.View(c.Request.Context()))
		})
		g.GET("/stream", func(c *gin.Context) {
			p.Change(c.Request.Context())
			c.Header("Content-Type", "text/plain")
			c.Writer.Flush()
			_, _ = c.Writer.WriteString(fwtest.StreamFirst)
			c.Writer.Flush()
			p.Wait(c.Request.Context())
			_, _ = c.Writer.WriteString(fwtest.StreamLast)
		})
	})
}

func TestGin(t *testing.T) {
	fwtest.Run(t, app)
}
