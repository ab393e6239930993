package main

import (
	"os"
	"testing"

	"github.com/shopsso/sso/internal/testenv"
)

// TestMain stops the PostgreSQL server the tests share, if one was started.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
