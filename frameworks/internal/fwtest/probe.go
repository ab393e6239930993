package fwtest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/alexedwards/scs/v2"

	sso "github.com/shopsso/sso"
)

// Paths of the probe handlers, which each framework's test mounts in the
// app's protected /account group with that framework's own API:
//
//   - GET ProbePath calls [Probe.Seen], then answers [Probe.View] of its
//     request's context as JSON through the framework's JSON helper.
//   - GET StreamPath calls [Probe.Change], sets Content-Type text/plain,
//     flushes through the framework's flush API before writing anything,
//     writes [StreamFirst], flushes, calls [Probe.Wait], writes
//     [StreamLast].
const (
	ProbePath  = "/account/probe"
	StreamPath = "/account/stream"

	StreamFirst = "first\n"
	StreamLast  = "last\n"
)

// streamKey is the session key [Probe.Change] sets.
const streamKey = "fwtest.streamed"

// Probe counts the protected handler's runs and lets a streaming handler
// wait for the client. Its methods are safe for concurrent use.
type Probe struct {
	sm       *scs.SessionManager
	calls    atomic.Int64
	released chan struct{}
	once     sync.Once
}

func newProbe(sm *scs.SessionManager) *Probe {
	return &Probe{sm: sm, released: make(chan struct{})}
}

// Seen records a run of the protected probe handler.
func (p *Probe) Seen() { p.calls.Add(1) }

// Calls reports how often the protected probe handler has run.
func (p *Probe) Calls() int { return int(p.calls.Load()) }

// View is what the probe handler found in its request's context.
type View struct {
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
	Token    bool   `json:"token"`    // an access token was in the context
	Streamed string `json:"streamed"` // the session value StreamPath sets
}

// View reads the login from ctx, as a protected handler does, and the value
// the stream handler keeps in the session.
func (p *Probe) View(ctx context.Context) View {
	var v View
	if tok, ok := sso.TokenFromContext(ctx); ok {
		v.Provider, v.Token = tok.Provider, tok.AccessToken != ""
	}
	if c, ok := sso.ClaimsFromContext(ctx); ok {
		v.Subject = c.Subject()
	}
	v.Streamed = p.sm.GetString(ctx, streamKey)
	return v
}

// Change changes the session, as the stream handler must before it flushes.
func (p *Probe) Change(ctx context.Context) { p.sm.Put(ctx, streamKey, "yes") }

// Wait blocks until the client has read the first line of the stream, or
// ctx ends.
func (p *Probe) Wait(ctx context.Context) {
	select {
	case <-p.released:
	case <-ctx.Done():
	}
}

func (p *Probe) release() { p.once.Do(func() { close(p.released) }) }
