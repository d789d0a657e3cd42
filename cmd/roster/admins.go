package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/operators"
)

// stdin is what --password-stdin reads (tests replace it).
var stdin io.Reader = os.Stdin

// operatorConfig is the settings of operator accounts (docs/operators.md).
type operatorConfig struct {
	linkTTL     time.Duration
	sessionIdle time.Duration
	sessionMax  time.Duration
	lockout     time.Duration
	maxFailures int
}

// operatorFlags registers the operator settings: the set-up link lifetime for every command
// that makes links, and with serve the sign-in and session settings too.
func (c *config) operatorFlags(fs *flag.FlagSet, serve bool) {
	o := &c.operators
	fs.DurationVar(&o.linkTTL, "admin-link-ttl", operators.DefaultLinkTTL, "how long a dashboard set-up or reset link works (env ROSTER_ADMIN_LINK_TTL)")
	if !serve {
		return
	}
	fs.DurationVar(&o.sessionIdle, "admin-session-idle", operators.DefaultSessionIdle, "a dashboard session unused this long ends (env ROSTER_ADMIN_SESSION_IDLE)")
	fs.DurationVar(&o.sessionMax, "admin-session-max", operators.DefaultSessionMax, "a dashboard session ends this long after sign-in, however used (env ROSTER_ADMIN_SESSION_MAX)")
	fs.DurationVar(&o.lockout, "admin-lockout", operators.DefaultLockout, "how long an operator's sign-ins are refused after --admin-lockout-failures wrong passwords (env ROSTER_ADMIN_LOCKOUT)")
	fs.IntVar(&o.maxFailures, "admin-lockout-failures", operators.DefaultMaxFailures, "wrong passwords in a row that lock an operator's sign-ins (env ROSTER_ADMIN_LOCKOUT_FAILURES)")
}

func (o operatorConfig) check() error {
	if o.linkTTL < 0 || o.sessionIdle < 0 || o.sessionMax < 0 || o.lockout < 0 || o.maxFailures < 0 {
		return errors.New("--admin-link-ttl, --admin-session-idle, --admin-session-max, --admin-lockout and --admin-lockout-failures must not be negative")
	}
	return nil
}

func (o operatorConfig) settings() operators.Settings {
	return operators.Settings{LinkTTL: o.linkTTL, SessionIdle: o.sessionIdle, SessionMax: o.sessionMax, Lockout: o.lockout, MaxFailures: o.maxFailures}
}

// listenAddr is a --listen address as a net.Addr, for config.issuer outside serve.
type listenAddr string

func (a listenAddr) Network() string { return "tcp" }
func (a listenAddr) String() string  { return string(a) }

const adminsUsage = "usage: roster admins create --email EMAIL [--name NAME] [--password-stdin] | list | reset --email EMAIL [--password-stdin] | remove --email EMAIL"

// admins manages the dashboard's operator accounts. It writes to the database directly, so it
// works beside a running serve (whose reads see it at once: nothing of operators is cached).
func admins(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(adminsUsage)
	}
	cmd := args[0]
	var c config
	var email, name string
	var pwStdin bool
	fs := flag.NewFlagSet("admins "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.storageFlags(fs)
	switch cmd {
	case "create", "reset":
		// The set-up link is made of the public URL as serve computes it.
		c.urlFlags(fs)
		c.operatorFlags(fs, false)
		fs.StringVar(&email, "email", "", "the operator's email, its sign-in name (required)")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input (one line) instead of printing a set-up link")
		if cmd == "create" {
			fs.StringVar(&name, "name", "", "the operator's display name")
		}
	case "remove":
		fs.StringVar(&email, "email", "", "the operator's email (required)")
	case "list":
	default:
		return fmt.Errorf("unknown admins command %q; %s", cmd, adminsUsage)
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if err := c.operators.check(); err != nil {
		return err
	}
	if cmd != "list" && email == "" {
		return fmt.Errorf("--email is required; %s", adminsUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; %s", fs.Args(), adminsUsage)
	}
	pw := ""
	if pwStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return fmt.Errorf("--password-stdin: no password on standard input")
		}
		if pw = strings.TrimRight(line, "\r\n"); pw == "" {
			return fmt.Errorf("--password-stdin: the password is empty")
		}
	}
	ctx := context.Background()
	st, _, err := openStore(ctx, &c)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, n := range migrationNotices(st) {
		fmt.Fprintf(stderr, "warning: %s\n", n)
	}
	ops := operators.New(st, c.operators.settings())
	publicURL := c.issuer(listenAddr(c.listen))
	printLink := func(cr operators.Created) {
		fmt.Fprintf(stdout, "setup_url=%s\n(the link works once, until %s; it is shown only now)\n",
			operators.SetUpURL(publicURL, cr.SetUpToken), cr.SetUpExpire.Format(time.RFC3339))
	}
	switch cmd {
	case "create":
		cr, err := ops.Create(ctx, roster.NewOperator{Email: email, DisplayName: name}, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "operator_id=%s\nemail=%s\n", cr.Operator.ID, cr.Operator.Email)
		if cr.SetUpToken != "" {
			printLink(cr)
		} else {
			fmt.Fprintln(stdout, "(the operator can sign in now)")
		}
	case "list":
		list, err := ops.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "OPERATOR ID\tEMAIL\tNAME\tCREATED\tSTATUS")
		for _, o := range list {
			status := "active"
			if !o.HasPassword() {
				status = "set-up pending"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.ID, o.Email, o.DisplayName, o.CreateTime.Format(time.RFC3339), status)
		}
		return tw.Flush()
	case "reset":
		cr, err := ops.Reset(ctx, email, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "operator_id=%s\nemail=%s\n(its sessions have ended and its sign-in lockout is cleared)\n", cr.Operator.ID, cr.Operator.Email)
		if cr.SetUpToken != "" {
			printLink(cr)
		}
	case "remove":
		op, err := ops.Remove(ctx, email)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s (%s); its sessions have ended\n", op.ID, op.Email)
	}
	return nil
}
