package sso

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/alexedwards/scs/v2"
)

// A panic in a hook, the session store, the codec or a provider while this
// package handles a request fails that request alone: it is recovered,
// logged once with its stack, and answered 500 ([ErrInternal]). A refresh
// runs on a goroutine of its own, where an unrecovered panic would end the
// process; see [Auth.safeRefresh]. A session store that panics counts as
// a store that is down (the store guard turns the panic into an error:
// 503); a session codec that panics fails the request that loads or saves
// the session (safeCodec: 500).

// safeCurrentLogin is [Auth.currentLogin] with a panic of the store or the
// codec (removing or destroying a session) turned into this request's
// failure ([ErrInternal], logged with its stack). Panics of the handler
// Require guards are not caught: they are the application's.
func (a *Auth) safeCurrentLogin(ctx context.Context, l *login) (provider string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fail(ErrInternal, "panic while reading the login", fmt.Errorf("%v", v))
			a.logPanic(ctx, provider, err, debug.Stack())
			*l, err = login{}, logged{err}
		}
	}()
	return a.currentLogin(ctx, l)
}

// safeComplete is [Auth.complete] (the callback's work: the code exchange,
// the ID-token checks, OnLogin, the session) with a panic turned into this
// request's failure.
func (a *Auth) safeComplete(w http.ResponseWriter, r *http.Request, p Provider) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fail(ErrInternal, "panic during the callback", fmt.Errorf("%v", v))
			a.logPanic(r.Context(), p.Name(), err, debug.Stack())
			err = logged{err}
		}
	}()
	return a.complete(w, r, p)
}

// logPanic logs a recovered panic with its stack and tells OnError.
func (a *Auth) logPanic(ctx context.Context, provider string, err error, stack []byte) {
	a.cfg.Logger.LogAttrs(ctx, slog.LevelError, "sso: request refused",
		slog.String("reason", err.Error()), slog.String("provider", provider), slog.String("stack", string(stack)))
	if a.cfg.OnError != nil {
		a.cfg.OnError(ctx, err)
	}
}

// safeCodec is the session manager's codec with a panic turned into an
// error ([ErrInternal]) and logged with its stack: scs calls the codec
// where this package cannot recover (LoadAndSave loading and saving).
// [New] puts it around [Config.Sessions]' codec.
type safeCodec struct {
	scs.Codec
	a *Auth
}

func (c safeCodec) Encode(deadline time.Time, values map[string]any) (b []byte, err error) {
	defer c.recover(&err, "panic in the session codec (encode)")
	return c.Codec.Encode(deadline, values)
}

func (c safeCodec) Decode(b []byte) (deadline time.Time, values map[string]any, err error) {
	defer c.recover(&err, "panic in the session codec (decode)")
	return c.Codec.Decode(b)
}

func (c safeCodec) recover(err *error, reason string) {
	if v := recover(); v != nil {
		e := fail(ErrInternal, reason, fmt.Errorf("%v", v))
		c.a.logPanic(context.Background(), "", e, debug.Stack())
		*err = logged{e}
	}
}
