package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/bulkcli"
	"github.com/rosterhq/roster/store/sqlite"
)

// bulkFlags are the flags that roster import and roster export share.
type bulkFlags struct {
	config
	url      string
	quiet    bool
	interval time.Duration
}

func (b *bulkFlags) register(fs *flag.FlagSet) {
	b.storageFlags(fs)
	fs.StringVar(&b.url, "url", "", "go through the roster serve at this URL (its REST API, with SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET) instead of opening the database; "+
		"an import on a SQLite data directory that roster serve holds goes through SCALEKIT_ENVIRONMENT_URL by itself")
	fs.BoolVar(&b.quiet, "quiet", false, "show no progress")
	fs.DurationVar(&b.interval, "progress-interval", 2*time.Second, "how often progress is printed when standard error is not a terminal")
}

func (b *bulkFlags) remote(u string) (*bulkcli.Remote, error) {
	id, secret := os.Getenv("SCALEKIT_CLIENT_ID"), os.Getenv("SCALEKIT_CLIENT_SECRET")
	if id == "" || secret == "" {
		return nil, fmt.Errorf("going through the server at %s needs an API client: set SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET "+
			"(printed at the server's first start, or made with roster clients create)", u)
	}
	return &bulkcli.Remote{URL: u, ClientID: id, ClientSecret: secret, HTTP: &http.Client{}}, nil
}

func (b *bulkFlags) progress(stderr io.Writer, verb string, total int64) *bulkcli.Progress {
	if b.quiet {
		return bulkcli.NewProgress(nil, false, verb, total, 0)
	}
	f, ok := stderr.(*os.File)
	return bulkcli.NewProgress(stderr, ok && bulkcli.IsTerminal(f), verb, total, b.interval)
}

const importUsage = "usage: roster import [flags] FILE (- reads standard input)"

// importUsers is `roster import`: it reads NDJSON users (docs/import-export.md) into the
// database, or through a running server's API when the server holds the SQLite data directory.
func importUsers(args []string, stdout, stderr io.Writer) error {
	var b bulkFlags
	var report string
	var maxPrinted int
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b.register(fs)
	fs.StringVar(&report, "report", "", "write every failed line, and the summary, to this file as NDJSON (the REST answer's lines)")
	fs.IntVar(&maxPrinted, "max-errors-shown", 50, "failed lines printed on standard error (all of them go to --report)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(importUsage)
	}
	if err := b.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var in io.Reader = os.Stdin
	var size int64
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in = f
	}
	rep := &bulkcli.Reporter{Out: stderr, Max: maxPrinted}
	if report != "" {
		f, err := os.Create(report)
		if err != nil {
			return err
		}
		defer f.Close()
		rep.File = f
	}

	// Where the users go: a server's API, or the database.
	remoteURL := b.url
	var unlock func() error
	if remoteURL == "" && b.databaseURL == "" {
		// SQLite: the running server must see what is written, so it is the one to write it.
		if err := sqlite.PrepareDataDir(b.dataDir, b.allowOpenDataDir); err != nil {
			return err
		}
		var err error
		unlock, err = sqlite.Lock(b.dataDir)
		switch {
		case errors.Is(err, sqlite.ErrInUse):
			if remoteURL = os.Getenv("SCALEKIT_ENVIRONMENT_URL"); remoteURL == "" {
				return fmt.Errorf("roster serve is running on the data directory %s, and it must see the users an import writes, "+
					"so the import goes through its API: set SCALEKIT_ENVIRONMENT_URL (or --url), SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET "+
					"and run the import again, or stop roster serve first", b.dataDir)
			}
			fmt.Fprintf(stderr, "roster serve holds %s: importing through %s\n", b.dataDir, remoteURL)
		case err != nil:
			return err
		default:
			// Held for the import: a server started meanwhile would cache users it writes.
			defer unlock()
		}
	}

	prog := b.progress(stderr, "import", size)
	var sum api.ImportSummary
	var err error
	if remoteURL != "" {
		var rc *bulkcli.Remote
		if rc, err = b.remote(remoteURL); err != nil {
			prog.Stop()
			return err
		}
		// The server answers failed lines as it goes and the counts at the end; progress
		// counts the lines sent.
		sum, err = rc.Import(ctx, &countLines{r: prog.Reader(in), prog: prog}, rep.Add)
	} else {
		sum, err = importDirect(ctx, &b.config, prog.Reader(in), prog, rep, stderr)
	}
	prog.Stop()
	if rep.File != nil && err == nil {
		_ = rep.Add(api.SummaryLineJSON(ctx, newLogger(io.Discard, 0), sum, nil))
	}
	if err != nil && sum.Lines == 0 {
		return err // nothing was read: no counts to show
	}
	secs := max(prog.Elapsed().Seconds(), 0.001)
	fmt.Fprintf(stdout, "%d lines: %d created, %d updated, %d unchanged, %d failed, in %s (%.0f lines/s)\n",
		sum.Lines, sum.Created, sum.Updated, sum.Unchanged, sum.Failed, prog.Elapsed().Round(time.Millisecond), float64(sum.Lines)/secs)
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d of %d lines failed", sum.Failed, sum.Lines)
	}
	return nil
}

func importDirect(ctx context.Context, c *config, in io.Reader, prog *bulkcli.Progress, rep *bulkcli.Reporter, stderr io.Writer) (api.ImportSummary, error) {
	st, dir, env, err := openDirectory(ctx, c, stderr)
	if err != nil {
		return api.ImportSummary{}, err
	}
	defer st.Close()
	log := newLogger(stderr, c.logLevel)
	return api.ImportNDJSON(ctx, dir, env, in, api.ImportOptions{
		OnError: func(le api.LineError) error { return rep.Add(api.ReportLineJSON(ctx, log, le)) },
		OnBatch: func(s api.ImportSummary) { prog.SetLines(s.Lines) },
	})
}

// countLines counts the lines of a file as it is sent, for the progress of a remote import.
type countLines struct {
	r    io.Reader
	prog *bulkcli.Progress
	n    int64
}

func (c *countLines) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			c.n++
		}
	}
	c.prog.SetLines(c.n)
	return n, err
}

// exportUsers is `roster export`: the directory (or one organization) as NDJSON, read from
// the database as of one point in time (a SQLite file may be read while roster serve runs), or
// through a server's API with --url.
func exportUsers(args []string, stdout, stderr io.Writer) error {
	var b bulkFlags
	var org, output string
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b.register(fs)
	fs.StringVar(&org, "organization", "", "export only this organization's members (its ID)")
	fs.StringVar(&output, "o", "", "write to this file (made whole or not at all) instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: roster export [--organization ORG_ID] [-o FILE] [flags]")
	}
	if err := b.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	out := stdout
	var tmp *os.File
	if output != "" {
		var err error
		if tmp, err = os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*"); err != nil {
			return err
		}
		defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
		defer tmp.Close()
		out = tmp
	}
	prog := b.progress(stderr, "export", 0)
	w := prog.Writer(out)
	var err error
	if b.url != "" {
		var rc *bulkcli.Remote
		if rc, err = b.remote(b.url); err == nil {
			err = rc.Export(ctx, org, w)
		}
	} else {
		err = exportDirect(ctx, &b.config, org, w, prog, stderr)
	}
	prog.Stop()
	if err != nil {
		return err
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), output); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "exported %d users to %s\n", prog.Lines(), output)
	}
	return nil
}

func exportDirect(ctx context.Context, c *config, org string, w io.Writer, prog *bulkcli.Progress, stderr io.Writer) error {
	if c.databaseURL == "" {
		if err := sqlite.PrepareDataDir(c.dataDir, c.allowOpenDataDir); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(c.dataDir, "roster.db")); err != nil {
			return fmt.Errorf("no database in %s: %w", c.dataDir, err)
		}
	}
	st, dir, env, err := openDirectory(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	bw := bufio.NewWriterSize(w, 256<<10)
	if err := api.ExportNDJSON(ctx, dir, env, org, bw, func(n int64) error { prog.SetLines(n); return nil }); err != nil {
		return err
	}
	return bw.Flush()
}
