package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"github.com/rosterhq/roster/gen/scalekit/v1/users/usersconnect"
)

// users answers GetUser (NotFound for "usr_missing") and records what CreateUserAndMembership
// was sent, and whether each call carried the expected authorization header.
type users struct {
	usersconnect.UnimplementedUserServiceHandler
	mu      sync.Mutex
	emails  []string
	badAuth int
	calls   int
}

func (u *users) check(h http.Header) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	if h.Get("Authorization") != "Bearer t0k" {
		u.badAuth++
	}
}

func (u *users) GetUser(_ context.Context, r *connect.Request[usersv1.GetUserRequest]) (*connect.Response[usersv1.GetUserResponse], error) {
	u.check(r.Header())
	if r.Msg.GetId() == "usr_missing" {
		// With a detail, as Roster's errors have: the client decodes the status's details too.
		err := connect.NewError(connect.CodeNotFound, fmt.Errorf("no user"))
		d, derr := connect.NewErrorDetail(&usersv1.User{Id: "usr_missing"})
		if derr != nil {
			return nil, derr
		}
		err.AddDetail(d)
		return nil, err
	}
	return connect.NewResponse(&usersv1.GetUserResponse{User: &usersv1.User{Id: r.Msg.GetId(), Email: "a@example.com"}}), nil
}

func (u *users) CreateUserAndMembership(_ context.Context, r *connect.Request[usersv1.CreateUserAndMembershipRequest]) (*connect.Response[usersv1.CreateUserAndMembershipResponse], error) {
	u.check(r.Header())
	u.mu.Lock()
	u.emails = append(u.emails, r.Msg.GetUser().GetEmail())
	u.mu.Unlock()
	return connect.NewResponse(&usersv1.CreateUserAndMembershipResponse{User: &usersv1.User{Email: r.Msg.GetUser().GetEmail()}}), nil
}

func server(t *testing.T, h *users) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(usersconnect.NewUserServiceHandler(h))
	srv := httptest.NewUnstartedServer(mux)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func dataFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCountsEveryCallByStatus(t *testing.T) {
	h := &users{}
	cfg := config{call: "scalekit.v1.users.UserService/GetUser", dataFile: dataFile(t, `[{"id":"usr_1"},{"id":"usr_missing"}]`),
		addr: server(t, h), headers: map[string]string{"authorization": "Bearer t0k"}, clients: 4,
		duration: 300 * time.Millisecond, timeout: 5 * time.Second}
	rep, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ok, notFound := rep.Status["OK"], rep.Status["NotFound"]
	if rep.Count == 0 || ok+notFound != rep.Count || len(rep.Status) != 2 {
		t.Fatalf("count %d, statuses %v: want every call OK or NotFound", rep.Count, rep.Status)
	}
	// Messages go out in order, so the two keys alternate: as many of each, give or take the
	// calls in flight.
	if d := ok - notFound; d < -cfg.clients || d > cfg.clients {
		t.Errorf("OK %d, NotFound %d: the two messages should alternate", ok, notFound)
	}
	if h.calls != rep.Count || h.badAuth != 0 {
		t.Errorf("server saw %d calls (%d without the header), report says %d", h.calls, h.badAuth, rep.Count)
	}
	if len(rep.Latency) != 7 || rep.Latency[2].Percentage != 50 || rep.Latency[2].Latency <= 0 || rep.Latency[6].Latency < rep.Latency[2].Latency {
		t.Errorf("latency percentiles %v", rep.Latency)
	}
	if rep.Rps <= 0 || rep.Total < cfg.duration {
		t.Errorf("rps %f over %s", rep.Rps, rep.Total)
	}
	for k := range rep.ErrorDist {
		if !strings.HasPrefix(k, "NotFound: ") {
			t.Errorf("error %q", k)
		}
	}
}

func TestLoadFillsTheRequestNumber(t *testing.T) {
	h := &users{}
	cfg := config{call: "scalekit.v1.users.UserService/CreateUserAndMembership",
		dataFile: dataFile(t, `[{"organization_id":"org_1","user":{"email":"a-{{.RequestNumber}}@example.com"}},
			{"organization_id":"org_2","user":{"email":"b-{{.RequestNumber}}@example.com"}}]`),
		addr: server(t, h), headers: map[string]string{"authorization": "Bearer t0k"}, clients: 3,
		duration: 200 * time.Millisecond, timeout: 5 * time.Second}
	rep, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status["OK"] != rep.Count || rep.Count != len(h.emails) {
		t.Fatalf("report %d calls %v, server %d", rep.Count, rep.Status, len(h.emails))
	}
	seen := map[string]bool{}
	for _, e := range h.emails {
		seen[e] = true
	}
	for n := range rep.Count {
		want := fmt.Sprintf("a-%d@example.com", n)
		if n%2 == 1 {
			want = fmt.Sprintf("b-%d@example.com", n)
		}
		if !seen[want] {
			t.Fatalf("request %d: no %s among %d emails", n, want, len(h.emails))
		}
	}
}

func TestLoadRefusesBadInput(t *testing.T) {
	for name, c := range map[string]struct{ call, data string }{
		"unknown field":        {"scalekit.v1.users.UserService/GetUser", `[{"nope":1}]`},
		"not an array":         {"scalekit.v1.users.UserService/GetUser", `{"id":"usr_1"}`},
		"empty":                {"scalekit.v1.users.UserService/GetUser", `[]`},
		"bad template":         {"scalekit.v1.users.UserService/GetUser", `[{"id":{{.RequestNumber}}}]`},
		"no such method":       {"scalekit.v1.users.UserService/Nope", `[{}]`},
		"no such service":      {"scalekit.v1.users.Nope/GetUser", `[{}]`},
		"not service/method":   {"GetUser", `[{}]`},
		"a bad second message": {"scalekit.v1.users.UserService/GetUser", `[{"id":"usr_1"},{"x":2}]`},
	} {
		_, err := load(config{call: c.call, dataFile: dataFile(t, c.data), addr: "127.0.0.1:1", clients: 1, duration: time.Millisecond, timeout: time.Second})
		if err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
