package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PGBinEnv names a directory holding initdb, postgres, pg_isready and
// createdb, for when they are neither on PATH nor in Debian's
// /usr/lib/postgresql/<version>/bin.
const PGBinEnv = "SHOPSSO_PG_BIN"

// Postgres is a private PostgreSQL server: a temporary data directory, a
// free loopback port, trust authentication for the superuser "postgres",
// no durability (fsync off). One is shared by all tests of a test binary.
type Postgres struct {
	Host string // 127.0.0.1
	Port int

	bin    string
	dir    string
	data   string
	cred   *syscall.Credential // the unprivileged user it runs as, when the tests run as root
	cmd    *exec.Cmd
	exited chan struct{}
	out    *bytes.Buffer
}

// shared is the server of this test binary.
var shared struct {
	once sync.Once
	pg   *Postgres
	err  error
}

// StartPostgres returns this test binary's PostgreSQL server, starting it
// on first use (initdb takes a few seconds; every later call is free). The
// test is skipped loudly, or fails under SHOPSSO_REQUIRE_EXTERNAL=1, when
// PostgreSQL is not installed. Packages that call it stop the server with
// [Main] in their TestMain.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, found := findPGBin()
	RequireExternal(t, "PostgreSQL (initdb, postgres, pg_isready, createdb: on PATH, in /usr/lib/postgresql/*/bin or $"+PGBinEnv+")", found)
	shared.once.Do(func() { shared.pg, shared.err = startPostgres(bin) })
	if shared.err != nil {
		t.Fatalf("starting PostgreSQL: %v", shared.err)
	}
	return shared.pg
}

// StartPrivatePostgres starts a PostgreSQL server of the test's own, which
// it may stop, pause and restart; it is removed when the test ends. It
// costs an initdb (seconds): use [StartPostgres] unless the test needs to
// disturb the server.
func StartPrivatePostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, found := findPGBin()
	RequireExternal(t, "PostgreSQL (initdb, postgres, pg_isready, createdb: on PATH, in /usr/lib/postgresql/*/bin or $"+PGBinEnv+")", found)
	p, err := startPostgres(bin)
	if err != nil {
		t.Fatalf("starting PostgreSQL: %v", err)
	}
	t.Cleanup(p.stop)
	return p
}

// Stop shuts the server down (fast shutdown: connections are closed).
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("postgres did not shut down within 20s")
	}
	p.cmd = nil
}

// Restart starts a stopped server again on the same port, with its data.
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	if err := p.run(p.data); err != nil {
		t.Fatalf("restarting PostgreSQL: %v", err)
	}
}

// Signal sends sig to the server and to each of its processes (backends,
// background workers): SIGSTOP pauses the whole server, SIGCONT resumes it.
func (p *Postgres) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	pids := append(p.children(), p.cmd.Process.Pid)
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("signalling postgres process %d: %v", pid, err)
		}
	}
}

// children returns the processes the server has started (each backend
// makes itself a session leader, so a process group does not cover them).
func (p *Postgres) children() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the command name (in parentheses): state, then ppid.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(p.cmd.Process.Pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Main runs the tests and then stops the shared PostgreSQL server, if one
// was started: call it from TestMain as os.Exit(testenv.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.pg != nil {
		shared.pg.stop()
	}
	return code
}

// URL returns a connection URL for database db.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", p.Host, p.Port, db)
}

// NewDatabase creates an empty database of its own for the test and
// returns its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	cmd := exec.Command(filepath.Join(p.bin, "createdb"), "-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", "postgres", name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("createdb: %v: %s", err, out)
	}
	return p.URL(name)
}

// findPGBin returns the directory of PostgreSQL's server binaries.
func findPGBin() (string, bool) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres", "pg_isready", "createdb"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(PGBinEnv); dir != "" {
		return dir, has(dir)
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), true
	}
	// Debian keeps them out of PATH, one directory per major version: take
	// the newest.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if has(d) {
			return d, true
		}
	}
	return "", false
}

func startPostgres(bin string) (*Postgres, error) {
	p := &Postgres{Host: "127.0.0.1", bin: bin, out: &bytes.Buffer{}}
	dir, err := os.MkdirTemp("", "shopsso-pg-")
	if err != nil {
		return nil, err
	}
	p.dir = dir
	// PostgreSQL refuses to run as root: run it as the "postgres" user
	// (Debian's package creates it), owning the data directory.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, errorf("running as root and there is no \"postgres\" user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	p.data = data
	initdb := p.command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, errorf("initdb: %v: %s", err, out)
	}
	var lastErr error
	for range 5 {
		if p.Port, err = FreeLoopbackPort(); err != nil {
			break
		}
		if lastErr = p.run(data); lastErr == nil {
			return p, nil
		}
		// most likely the port was taken in between: try another
	}
	os.RemoveAll(dir)
	if lastErr == nil {
		lastErr = err
	}
	return nil, lastErr
}

// command is the named PostgreSQL binary, run as the server's user.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// run starts postgres on p.Port and waits until it accepts connections.
func (p *Postgres) run(data string) error {
	p.out.Reset()
	cmd := p.command("postgres", "-D", data,
		"-h", p.Host, "-p", strconv.Itoa(p.Port), "-k", p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	out := &syncWriter{b: p.out}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready := exec.Command(filepath.Join(p.bin, "pg_isready"), "-q", "-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", "postgres", "-t", "1")
		if ready.Run() == nil {
			return nil
		}
		select {
		case <-exited:
			return errorf("postgres exited on port %d: %s", p.Port, strings.TrimSpace(out.String()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return errorf("postgres on port %d not ready within 30s: %s", p.Port, strings.TrimSpace(out.String()))
		}
	}
}

// stop shuts the server down (fast shutdown, then a kill) and removes its
// data directory.
func (p *Postgres) stop() {
	if p.cmd != nil {
		for _, pid := range append(p.children(), p.cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGCONT) // a paused server cannot shut down
		}
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		p.cmd = nil
	}
	if err := os.RemoveAll(p.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "testenv: removing %s: %v\n", p.dir, err)
	}
}

// syncWriter is a buffer safe for the process's concurrent writers.
type syncWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
