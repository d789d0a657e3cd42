// Command roster runs Roster: `roster serve` starts the server, `roster migrate` prepares the
// database, `roster clients` manages API clients, `roster admins` the dashboard's operators,
// `roster version` prints the version.
// This file only reads configuration and wires the packages together.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/scim/scimdir"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/server"
	"github.com/rosterhq/roster/smtpmail"
	"github.com/rosterhq/roster/sso"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/webhooks"
)

// version may be set at build time with -ldflags "-X main.version=..."; otherwise it comes
// from the build information Go records (versionFrom).
var version string

const usage = `Roster: a self-hosted directory that speaks the Scalekit API.

Usage:
  roster serve    [flags]   start the server (creates the database and an admin API client on first start)
  roster migrate  [flags]   apply database migrations (and seal plaintext signing keys) and exit
  roster clients create --name NAME [--redirect-uri URL ...] [flags] | list [flags] | revoke [flags] CLIENT_ID
  roster clients redirect-uris [flags] CLIENT_ID [URL ...]
  roster admins create --email EMAIL [--name NAME] [--password-stdin] [flags] | list [flags]
  roster admins reset --email EMAIL [--password-stdin] [flags] | remove --email EMAIL [flags]
                            dashboard operators (docs/operators.md); without a password, a one-time set-up link
  roster import   [flags] FILE       import users from NDJSON (- reads standard input; docs/import-export.md)
  roster export   [--organization ORG_ID] [-o FILE] [flags]   export users as NDJSON
  roster version | --version

Run 'roster COMMAND -h' for a command's flags.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "roster:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	err := runCommand(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) { // -h or --help: the flags were printed as asked
		return nil
	}
	return err
}

func runCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "migrate":
		return migrate(args[1:], stdout, stderr)
	case "clients":
		return clients(args[1:], stdout, stderr)
	case "admins":
		return admins(args[1:], stdout, stderr)
	case "import":
		return importUsers(args[1:], stdout, stderr)
	case "export":
		return exportUsers(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, "roster", versionFrom(version, bi))
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// versionFrom returns the version set with -ldflags, else the module version Go recorded
// (a tag, or a pseudo-version from the commit), else the commit itself ("-dirty" when the
// tree had changes), else "dev".
func versionFrom(ldflags string, bi *debug.BuildInfo) string {
	if ldflags != "" {
		return ldflags
	}
	if bi == nil {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev == "" {
		return "dev"
	}
	return rev + dirty
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// openStore opens the database of every command; the events its writes record show their
// objects as the API does (api.SetEventData, with the public URL when it is known: serve's,
// or --issuer-url).
func openStore(ctx context.Context, c *config) (store.Store, string, error) {
	s, backend, err := openBackend(ctx, c)
	if err == nil {
		api.SetEventData(s, strings.TrimSuffix(c.issuerURL, "/"))
	}
	return s, backend, err
}

func openBackend(ctx context.Context, c *config) (store.Store, string, error) {
	if c.databaseURL != "" {
		s, err := postgres.Open(ctx, c.databaseURL)
		return s, "postgres", err
	}
	if err := sqlite.PrepareDataDir(c.dataDir, c.allowOpenDataDir); err != nil {
		return nil, "sqlite", err
	}
	s, err := sqlite.Open(ctx, c.dataDir, sqlite.WithUserCache(int(c.userCacheBytes)), sqlite.WithWALLimit(c.sqliteWALLimit.bytes()),
		sqlite.WithPageCache(int(c.sqlitePageCacheBytes)), sqlite.WithMmap(int(c.sqliteMmapBytes)))
	return s, "sqlite", err
}

// migrationNotices is what opening the store's migrations reported for the operator (data left
// unconverted, docs/users.md), logged by serve and printed by the other commands.
// openDirectory opens the store for a management command (roster clients, import, export),
// prints what migrations left for the operator to stderr, and finds the default environment.
// The caller closes the store.
func openDirectory(ctx context.Context, c *config, stderr io.Writer) (store.Store, *directory.Service, roster.Environment, error) {
	st, _, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, roster.Environment{}, err
	}
	for _, n := range migrationNotices(st) {
		fmt.Fprintf(stderr, "warning: %s\n", n)
	}
	dir := directory.New(st)
	env, err := dir.DefaultEnvironment(ctx)
	if err != nil {
		st.Close()
		return nil, nil, roster.Environment{}, err
	}
	return st, dir, env, nil
}

func migrationNotices(st store.Store) []string {
	if n, ok := st.(interface{ MigrationNotices() []string }); ok {
		return n.MigrationNotices()
	}
	return nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	return serveContext(context.Background(), args, stdout, stderr)
}

// serveStarted, when set (by tests), is given the running server's operator service.
var serveStarted func(*operators.Service)

// serveContext is serve until parent ends (or a signal comes).
func serveContext(parent context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.serveFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if err := c.operators.check(); err != nil {
		return err
	}
	log := newLogger(stderr, c.logLevel)
	setGCPercent()
	memLimit := c.setMemoryLimit()
	ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Everything that can fail is checked before the admin API client is created (Bootstrap):
	// its generated secret is shown once, by a server that has started.
	if c.databaseURL == "" { // one serve per SQLite data directory
		if err := sqlite.PrepareDataDir(c.dataDir, c.allowOpenDataDir); err != nil {
			return err
		}
		unlock, err := sqlite.Lock(c.dataDir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	var tlsConfig *tls.Config
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	bootstrapID, bootstrapSecret := os.Getenv("ROSTER_BOOTSTRAP_CLIENT_ID"), os.Getenv("ROSTER_BOOTSTRAP_CLIENT_SECRET")
	var bootstrapURIs []string
	if uris := os.Getenv("ROSTER_BOOTSTRAP_REDIRECT_URIS"); uris != "" && bootstrapID != "" {
		bootstrapURIs = strings.FieldsFunc(uris, splitList)
		if err := roster.CheckRedirectURIs(bootstrapURIs); err != nil {
			return fmt.Errorf("ROSTER_BOOTSTRAP_REDIRECT_URIS: %w", err)
		}
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	defer ln.Close() // if serving never starts
	issuer := c.issuer(ln.Addr())
	c.issuerURL = issuer // the public URL, for openStore's event data
	var mailer directory.Option
	if c.smtpURL != "" {
		m, err := smtpmail.New(c.smtpURL, issuer)
		if err != nil {
			return err
		}
		mailer = directory.WithMailer(m)
	}
	key, err := c.encryptionKeyBytes()
	if err != nil {
		return err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return err
	}

	st, backend, err := openStore(ctx, &c)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close database", "err", err)
		}
		log.Info("database closed")
	}()
	for _, n := range migrationNotices(st) {
		log.Warn("migration left data for the operator", "notice", n)
	}
	if c.allowPrivateNetworks {
		log.Warn("outbound fetches may reach private networks (--allow-private-networks): for development and tests only")
	}
	// One outbound rule for every fetch an administrator's URL causes: SAML metadata URLs
	// (directory) and identity providers' endpoints (sso); docs/outbound.md.
	guard := outbound.New(outbound.Options{AllowPrivateNetworks: c.allowPrivateNetworks, Log: log})
	dirOpts := []directory.Option{directory.WithLogger(log), directory.WithSecretBox(box), directory.WithOutbound(guard)}
	if mailer != nil {
		dirOpts = append(dirOpts, mailer)
	}
	dir := directory.New(st, dirOpts...)
	defer func() { // before the store closes (deferred above): the SCIM request record's last writes
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := dir.Close(cctx); err != nil {
			log.Warn("directory: background writes not finished", "err", err)
		}
	}()
	env, err := dir.EnsureEnvironment(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	// Event retention (docs/events.md): pruned in the background, stopped before the store
	// closes.
	retentionCtx, stopRetention := context.WithCancel(ctx)
	retentionDone := make(chan struct{})
	go func() {
		defer close(retentionDone)
		dir.RunEventRetention(retentionCtx, c.eventRetention, directory.EventPruneEvery)
	}()
	defer func() { stopRetention(); <-retentionDone }()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tokens := oauth.NewServer(st, issuer, c.tokenTTL, oauth.WithSecretBox(box))
	tokens.SetThrottle(c.limits.throttle())
	signIn := sso.New(sso.Config{Directory: dir, Tokens: tokens, EnvironmentID: env.ID, Issuer: issuer, Log: log, Outbound: guard})
	hooks := webhooks.New(st, box, guard) // the API's and the dashboard's
	handlers, err := api.New(api.Config{Directory: dir, Verifier: tokens, Log: log, Metrics: reg, Issuer: issuer, JSONMemoBytes: c.apiMemoBytes(),
		Webhooks: hooks})
	if err != nil {
		return err
	}
	// Webhook deliveries (docs/webhooks.md) run with the server and stop before the store
	// closes (the defer runs before the store's): what was delivered is recorded.
	worker := webhooks.NewWorker(st, box, guard, c.webhooks, log)
	if err := worker.Register(reg); err != nil {
		return err
	}
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() { worker.Run(workerCtx); close(workerDone) }()
	defer func() {
		stopWorker()
		<-workerDone
		log.Info("webhook worker stopped")
	}()
	metricsLn, err := c.limits.metricsListener()
	if err != nil {
		return err
	}
	// Operators of the dashboard (docs/operators.md) and the dashboard itself (docs/dashboard.md).
	ops := operators.New(st, c.operators.settings(), operators.WithLogger(log))
	console := dashboard.New(dashboard.Config{Directory: dir, Environment: env, Operators: ops, Log: log,
		Secure: tlsConfig != nil || strings.HasPrefix(issuer, "https://"), CSRFKey: dashboard.CSRFKey(key), Issuer: issuer, TestSignIn: signIn, Webhooks: hooks})
	scfg := server.Config{
		API:       handlers,
		OAuth:     &oauth.Handler{Server: tokens, EnvironmentID: env.ID, Log: log},
		SSO:       signIn,
		SCIM:      scimdir.Handler(dir, issuer, log),
		Dashboard: console,
		Store:     st,
		Log:       log,
		Registry:  reg,
		TLS:       tlsConfig,
	}
	scfg.Limits, scfg.MetricsOnAPIPort, scfg.MetricsListener = c.limits.server(), c.limits.metricsListen == metricsOnAPIPort, metricsLn
	srv := server.New(scfg)

	_, created, err := dir.Bootstrap(ctx, bootstrapID, bootstrapSecret)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if bootstrapURIs != nil {
		// The operator's configuration is the truth for the bootstrap client, at every start.
		if err := dir.SetRedirectURIs(ctx, bootstrapID, bootstrapURIs); err != nil {
			return fmt.Errorf("ROSTER_BOOTSTRAP_REDIRECT_URIS: %w", err)
		}
	}
	if created != nil && bootstrapSecret != "" {
		created.Secret = "" // the operator chose it; never echo it
	}
	// While there is no operator, each start prints a new one-time link (the earlier ones
	// stop working) with which the first chooses a password.
	firstLink := ""
	if token, _, ok, err := ops.FirstRunLink(ctx); err != nil {
		return fmt.Errorf("bootstrap: first operator: %w", err)
	} else if ok {
		firstLink = operators.SetUpURL(issuer, token)
	}
	if serveStarted != nil {
		serveStarted(ops)
	}
	bi, _ := debug.ReadBuildInfo()
	log.Info("roster started", "version", versionFrom(version, bi), "listen", ln.Addr().String(), "issuer", issuer, "storage", backend, "environment", env.ID, "memory_limit", memLimit)
	if metricsLn != nil {
		log.Info("metrics listener", "listen", metricsLn.Addr().String())
	}
	printWelcome(stdout, issuer, created, firstLink, c.operators.settings())
	err = srv.Serve(ctx, ln)
	log.Info("server stopped")
	return err
}

// printWelcome tells the operator how to call Roster. A generated client secret and the
// first operator's set-up link are printed here, once, to standard output, and never logged.
func printWelcome(w io.Writer, issuer string, created *directory.NewClient, firstLink string, set operators.Settings) {
	fmt.Fprintf(w, "\nRoster is listening at %s\n", issuer)
	switch {
	case created != nil && created.Secret != "":
		fmt.Fprintf(w, "\nAn admin API client was created. Its secret is shown only now; keep it safe:\n\n")
		fmt.Fprintf(w, "  export SCALEKIT_ENVIRONMENT_URL=%s\n  export SCALEKIT_CLIENT_ID=%s\n  export SCALEKIT_CLIENT_SECRET=%s\n",
			issuer, created.Client.ID, created.Secret)
	case created != nil:
		fmt.Fprintf(w, "\nThe admin API client %s was created with the secret from ROSTER_BOOTSTRAP_CLIENT_SECRET.\n", created.Client.ID)
	default:
		fmt.Fprintf(w, "\nUse an existing API client (roster clients list), or create one with: roster clients create --name NAME\n")
	}
	if firstLink != "" {
		ttl := set.LinkTTL
		if ttl == 0 {
			ttl = operators.DefaultLinkTTL
		}
		fmt.Fprintf(w, "\nNo dashboard operator exists yet. The first one chooses a password at this link, which works\nonce, for %s (a new one is printed at each start until then; roster admins create adds others):\n\n  %s\n",
			shortDuration(ttl), firstLink)
	}
	fmt.Fprintf(w, `
Get a token and call the API:

  TOKEN=$(curl -s %[1]s/oauth/token -d grant_type=client_credentials \
    -d client_id=$SCALEKIT_CLIENT_ID -d client_secret=$SCALEKIT_CLIENT_SECRET | jq -r .access_token)
  curl -s %[1]s/api/v1/organizations -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"display_name": "Megasoft Inc", "external_id": "CUST-12345-MGSFT"}'

`, issuer)
}

func migrate(args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.storageFlags(fs)
	c.keyFlags(fs) // migrate seals signing keys that older versions stored in plaintext
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	box, err := c.secretBox()
	if err != nil {
		return err
	}
	st, backend, err := openStore(context.Background(), &c)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, n := range migrationNotices(st) {
		fmt.Fprintf(stdout, "warning: %s\n", n)
	}
	if _, err := directory.New(st, directory.WithSecretBox(box)).EnsureEnvironment(context.Background()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s database is up to date\n", backend)
	return nil
}

func clients(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: roster clients create --name NAME [--redirect-uri URL ...] | list | redirect-uris CLIENT_ID [URL ...] | revoke CLIENT_ID")
	}
	var c config
	var name string
	fs := flag.NewFlagSet("clients "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.storageFlags(fs)
	var uris listFlag
	if args[0] == "create" {
		fs.StringVar(&name, "name", "", "a name that says who uses the client (required)")
		fs.Var(&uris, "redirect-uri", "a URL that sign-ins may return to (repeat for several)")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	ctx := context.Background()
	st, dir, env, err := openDirectory(ctx, &c, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "create":
		if err := roster.CheckRedirectURIs(uris); err != nil {
			return err
		}
		nc, err := dir.CreateClient(ctx, env, name, "", "")
		if err != nil {
			return err
		}
		if len(uris) > 0 {
			if err := dir.SetRedirectURIs(ctx, nc.Client.ID, uris); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "client_id=%s\nclient_secret=%s\n(the secret is shown only now)\n", nc.Client.ID, nc.Secret)
		return nil
	case "list":
		list, err := st.ListClients(ctx, env.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT ID\tNAME\tCREATED\tSTATUS\tREDIRECT URIS")
		for _, cl := range list {
			status := "active"
			if cl.Revoked() {
				status = "revoked " + cl.RevokeTime.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Name, cl.CreateTime.Format(time.RFC3339), status, strings.Join(cl.RedirectURIs, " "))
		}
		return tw.Flush()
	case "redirect-uris":
		if fs.NArg() < 1 {
			return errors.New("usage: roster clients redirect-uris CLIENT_ID [URL ...] (replaces the list; none clears it)")
		}
		if err := dir.SetRedirectURIs(ctx, fs.Arg(0), fs.Args()[1:]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s may return sign-ins to %d redirect URIs\n", fs.Arg(0), fs.NArg()-1)
		return nil
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("usage: roster clients revoke CLIENT_ID")
		}
		if err := dir.RevokeClient(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return nil
	}
	return fmt.Errorf("unknown clients command %q", args[0])
}

// defaultGCPercent is Roster's garbage collector target when GOGC is not set: a server whose
// live heap is small and whose requests allocate much collects too often at Go's default of
// 100; at 200 a page of 100 users costs about a fifth less CPU for about half again the heap
// (README, Configuration).
const defaultGCPercent = 200

func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// shortDuration prints 24h rather than 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
