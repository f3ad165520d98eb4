package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sitrep-bot/sitrep/store"
	"github.com/sitrep-bot/sitrep/store/exchange"
)

// dataLockTimeout is how long the maintenance subcommands wait for a store that
// another process holds: not long, since serve holds it until it stops.
const dataLockTimeout = 300 * time.Millisecond

// runData runs the maintenance subcommands: export, import, backup and check.
func runData(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	db := getenv("SITREP_DB")
	if db == "" {
		db = "./sitrep.db"
	}
	fs := flag.NewFlagSet("sitrep "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&db, "db", db, "the bbolt store at `PATH` (overrides SITREP_DB)")
	switch name {
	case "export":
		return runExport(ctx, fs, &db, args, stdout, stderr)
	case "import":
		return runImport(ctx, fs, &db, args, stdin, stdout)
	case "backup":
		return runBackup(ctx, fs, &db, args, stdout, getenv)
	case "check":
		return runCheck(ctx, fs, &db, args, stdout)
	}
	return fmt.Errorf("unknown subcommand %q", name)
}

// usage sets a subcommand's help: its synopsis, what it does, its flags and the
// environment it reads.
func usage(fs *flag.FlagSet, synopsis, about, env string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nEnvironment:\n  SITREP_DB  the store (default ./sitrep.db; -db overrides it)\n%s", env)
	}
}

// parseArgs parses flags given before or after the positional arguments and returns
// the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "-" || !strings.HasPrefix(args[0], "-") {
			pos = append(pos, args[0])
			args = args[1:]
			continue
		}
		// "--" ended the flags: the rest is positional.
		return append(pos, args...), nil
	}
}

// existing refuses a store path that does not exist, so that export, backup and check
// never create an empty store by mistake.
func existing(db string) error {
	if _, err := os.Stat(db); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no store at %s (set SITREP_DB or -db)", db)
		}
		return fmt.Errorf("store %s: %w", db, err)
	}
	return nil
}

// inUse explains a store that another process holds.
func inUse(err error, what string) error {
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w; %s needs the store to itself: stop sitrep serve (or console) first", err, what)
	}
	return err
}

// runExport writes the store's updates as JSON lines or CSV.
func runExport(ctx context.Context, fs *flag.FlagSet, db *string, args []string, stdout, stderr io.Writer) error {
	usage(fs, "sitrep export [-format jsonl|csv] [-since DATE] [-db PATH] [-o FILE]",
		"Writes every update, in id order, to standard output or FILE. JSON lines carry every field and\n"+
			"an external id, and are what `sitrep import` reads. CSV has ACLED's columns (event_date, actor1,\n"+
			"location, admin1, admin3, latitude, longitude, source, notes) and then sitrep's (status, claimant,\n"+
			"groups, status_note, source_url, precision, posted, id, external_id), one row per town an\n"+
			"update concerns: count updates by distinct id.", "")
	format := fs.String("format", "jsonl", "`FORMAT`: jsonl or csv")
	since := fs.String("since", "", "only updates whose event date is on or after `DATE` (YYYY-MM-DD in Myanmar time, or RFC 3339)")
	out := fs.String("o", "", "write to `FILE` (through FILE.tmp, renamed when complete) instead of standard output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("export: unexpected argument %q (see sitrep export -h)", pos[0])
	}
	f, err := exchange.ParseFormat(*format)
	if err != nil {
		return fmt.Errorf("export: -format: %w", err)
	}
	opts := exchange.Options{}
	if *since != "" {
		loc, err := time.LoadLocation("Asia/Yangon")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if opts.Since, err = exchange.ParseSince(*since, loc); err != nil {
			return fmt.Errorf("export: -since: %w", err)
		}
	}
	if err := existing(*db); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	st, err := store.Open(ctx, *db, store.Options{LockTimeout: dataLockTimeout})
	if err != nil {
		return fmt.Errorf("export: %w", inUse(err, "export"))
	}
	defer st.Close()
	var n int
	if *out == "" {
		n, err = exchange.Export(ctx, st, stdout, f, opts)
	} else {
		_, err = store.WriteFileAtomic(*out, func(w io.Writer) (int64, error) {
			var werr error
			n, werr = exchange.Export(ctx, st, w, f, opts)
			return 0, werr
		})
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", *db, err)
	}
	if *out != "" {
		fmt.Fprintf(stderr, "exported %d updates to %s\n", n, *out)
	} else {
		fmt.Fprintf(stderr, "exported %d updates\n", n)
	}
	return nil
}

// runImport reads updates exported as JSON lines into the store.
func runImport(ctx context.Context, fs *flag.FlagSet, db *string, args []string, stdin io.Reader, stdout io.Writer) error {
	usage(fs, "sitrep import [-dry-run] [-db PATH] FILE",
		"Adds the updates in FILE (JSON lines as `sitrep export` writes them; - is standard input) to the\n"+
			"store, creating it if needed. Updates are known by their external id: one the store has already\n"+
			"is skipped, so importing a file twice adds nothing the second time. Every record is checked first\n"+
			"(its JSON, text, status, times, and its towns and groups against this store's gazetteer); a bad\n"+
			"one is reported with its line number and nothing is written. Imported updates are history: they\n"+
			"are not pushed to subscribers.", "")
	dryRun := fs.Bool("dry-run", false, "check the file and say what would be imported, writing nothing")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("import: want one FILE (- for standard input)")
	}
	file := pos[0]
	var in io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		in = f
	}
	path := *db
	if *dryRun {
		// A dry run writes nothing, not even a new store: check against a fresh
		// temporary one, which has the bundled gazetteer a new store would have.
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			dir, err := os.MkdirTemp("", "sitrep-dry-run-")
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			defer os.RemoveAll(dir)
			path = filepath.Join(dir, "sitrep.db")
		}
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	st, err := store.Open(ctx, path, store.Options{LockTimeout: dataLockTimeout})
	if err != nil {
		return fmt.Errorf("import: %w", inUse(err, "import"))
	}
	defer st.Close()
	res, err := exchange.Import(ctx, st, in, *dryRun)
	if err != nil {
		if created { // leave no empty store behind a failed import
			_ = st.Close()
			_ = os.Remove(path)
		}
		return fmt.Errorf("import %s: %w; nothing was imported", file, err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("import %s: %w", file, err)
	}
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: would import %d updates (%d already present) from %s\n", res.Added, res.Present, file)
	} else {
		fmt.Fprintf(stdout, "imported %d updates (%d already present) from %s\n", res.Added, res.Present, file)
	}
	return nil
}

// runBackup writes a consistent copy of the store to a file: directly, or through the
// running server's /admin/backup when serve holds the store.
func runBackup(ctx context.Context, fs *flag.FlagSet, db *string, args []string, stdout io.Writer, getenv func(string) string) error {
	usage(fs, "sitrep backup [-db PATH] FILE",
		"Writes a consistent copy of the store to FILE (through FILE.tmp, synced and renamed when\n"+
			"complete). When sitrep serve holds the store, the copy is taken by the server and fetched from\n"+
			"its admin endpoint GET http://SITREP_HTTP_ADDR/admin/backup with SITREP_ADMIN_TOKEN.",
		"  SITREP_HTTP_ADDR        the running server's address (default 127.0.0.1:8080; -http-addr)\n"+
			"  SITREP_ADMIN_TOKEN      its admin token (or SITREP_ADMIN_TOKEN_FILE, a file holding it; -admin-token-file)\n")
	addr := fs.String("http-addr", cmp.Or(getenv("SITREP_HTTP_ADDR"), "127.0.0.1:8080"), "the running server's address (overrides SITREP_HTTP_ADDR)")
	tokenFile := fs.String("admin-token-file", getenv("SITREP_ADMIN_TOKEN_FILE"), "file holding the server's admin token (overrides SITREP_ADMIN_TOKEN_FILE)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("backup: want one FILE")
	}
	file := pos[0]
	if err := existing(*db); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if a, b := absPath(file), absPath(*db); a == b {
		return fmt.Errorf("backup: %s is the store itself", file)
	}
	start := time.Now()
	st, err := store.Open(ctx, *db, store.Options{ReadOnly: true, LockTimeout: dataLockTimeout})
	if errors.Is(err, store.ErrLocked) {
		token, err := adminToken(getenv("SITREP_ADMIN_TOKEN"), *tokenFile, *tokenFile != getenv("SITREP_ADMIN_TOKEN_FILE"))
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		n, err := backupOverHTTP(ctx, file, *addr, token)
		if err != nil {
			return fmt.Errorf("backup: %s is in use (sitrep serve?), and taking the copy through the server failed: %w", *db, err)
		}
		fmt.Fprintf(stdout, "backup: wrote %d bytes to %s through the running server in %s\n", n, file, time.Since(start).Round(time.Millisecond))
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer st.Close()
	n, err := st.BackupFile(ctx, file)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup: wrote %d bytes to %s in %s\n", n, file, time.Since(start).Round(time.Millisecond))
	return nil
}

// adminToken is the admin token: the variable's value, or the named file's content
// when the variable is unset or the file was given as a flag.
func adminToken(value, file string, fileByFlag bool) (string, error) {
	if file == "" || (value != "" && !fileByFlag) {
		return value, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// absPath is path made absolute, or path itself if that fails.
func absPath(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}

// backupOverHTTP fetches a backup from a running server's admin endpoint into file.
func backupOverHTTP(ctx context.Context, file, addr, token string) (int64, error) {
	if token == "" {
		return 0, errors.New("set SITREP_ADMIN_TOKEN (or SITREP_ADMIN_TOKEN_FILE, or -admin-token-file) to the server's admin token")
	}
	if addr == "off" {
		return 0, errors.New("SITREP_HTTP_ADDR is off: the server has no HTTP endpoint to take the copy; stop it, or give -http-addr")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("SITREP_HTTP_ADDR %q: want host:port: %w", addr, err)
	}
	switch host { // a server listening on every address is reached on loopback
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	addr = net.JoinHostPort(host, port)
	url := "http://" + addr + "/admin/backup"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("SITREP_HTTP_ADDR %q: %w", addr, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return 0, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return store.WriteFileAtomic(file, func(w io.Writer) (int64, error) {
		n, err := io.Copy(w, resp.Body)
		if err != nil {
			return n, fmt.Errorf("GET %s: after %d bytes: %w", url, n, err)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return n, fmt.Errorf("GET %s: got %d bytes of %d", url, n, resp.ContentLength)
		}
		return n, nil
	})
}

// backupHandler serves a consistent copy of the store to an admin: the request must
// carry "Authorization: Bearer <token>"; anyone else, and everyone when token is
// empty, gets 401. It sends the copy's length and a file name, and logs each backup
// (never the token).
func backupHandler(st *store.Store, token string, log *slog.Logger) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(given))
		// Hashing first makes the comparison constant-time in the token's length too.
		if token == "" || !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			log.Warn("backup refused", "remote", r.RemoteAddr, "token_given", ok, "configured", token != "")
			w.Header().Set("WWW-Authenticate", `Bearer realm="sitrep admin"`)
			http.Error(w, "unauthorized: an admin token is required", http.StatusUnauthorized)
			return
		}
		start := time.Now()
		name := "sitrep-" + start.UTC().Format("20060102T150405Z") + ".db"
		started := false
		n, err := st.Backup(r.Context(), func(size int64) (io.Writer, error) {
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Length", strconv.FormatInt(size, 10))
			h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			started = true
			if r.Method == http.MethodHead {
				return io.Discard, nil // the headers say what a GET would send
			}
			return w, nil
		})
		if err != nil {
			log.Error("backup failed", "remote", r.RemoteAddr, "bytes", n, "duration", time.Since(start), "err", err)
			if !started {
				http.Error(w, "backup failed", http.StatusInternalServerError)
			}
			return
		}
		log.Info("backup served", "remote", r.RemoteAddr, "bytes", n, "duration", time.Since(start), "file", name)
	})
}

// runCheck verifies the store's integrity without changing it.
func runCheck(ctx context.Context, fs *flag.FlagSet, db *string, args []string, stdout io.Writer) error {
	usage(fs, "sitrep check [-db PATH]",
		"Checks the store read-only: bbolt's page-level check, then sitrep's own invariants (every index\n"+
			"entry points at an update and every update has its entries; subscriptions and their index;\n"+
			"deliveries and the due index; the schema version). Prints a summary and every problem found;\n"+
			"exits non-zero if there is one. It needs the store to itself (stop sitrep serve, or check a\n"+
			"backup).", "")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("check: unexpected argument %q (see sitrep check -h)", pos[0])
	}
	if err := existing(*db); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	rep, err := checkStore(ctx, *db)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if rep.OK() {
		fmt.Fprintf(stdout, "ok: %s\n", rep.Summary())
		return nil
	}
	fmt.Fprintf(stdout, "%s: %d problems: %s\n", *db, rep.ProblemCount, rep.Summary())
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	if len(rep.Problems) < rep.ProblemCount {
		fmt.Fprintf(stdout, "  … and %d more\n", rep.ProblemCount-len(rep.Problems))
	}
	return fmt.Errorf("check: %s has %d problems", *db, rep.ProblemCount)
}

// checkStore opens the store read-only and checks it. A file so damaged that opening
// it panics inside bbolt is reported as an error, not a crash.
func checkStore(ctx context.Context, db string) (rep store.CheckReport, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s is damaged: bbolt could not read it: %v", db, p)
		}
	}()
	st, err := store.Open(ctx, db, store.Options{ReadOnly: true, LockTimeout: dataLockTimeout})
	if err != nil {
		return rep, inUse(err, "check")
	}
	defer st.Close()
	return st.Check(ctx)
}
