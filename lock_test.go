package sso_test

import (
	"testing"

	"github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/locktest"
)

func TestLocalLocker(t *testing.T) {
	t.Parallel()
	locktest.Run(t, sso.NewLocalLocker())
}
