package sso_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEUsageIsTheExample keeps the README's usage snippet equal to
// the code Example_netHTTP runs (the region between the README markers
// in example_test.go), so the README's code compiles and works.
func TestREADMEUsageIsTheExample(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "// README:begin usage\n")
	region, _, ok2 := strings.Cut(rest, "// README:end usage")
	if !ok || !ok2 {
		t.Fatal("example_test.go has no README:begin/end usage markers")
	}
	block := "```go\n" + strings.Trim(region, "\n") + "\n```\n"
	if !strings.Contains(string(readme), block) {
		t.Errorf("README.md does not contain the usage code of example_test.go verbatim; paste this block:\n%s", block)
	}
}
