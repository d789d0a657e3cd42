// Command ceiling is the load benchmark's yardstick: the cheapest server Go can be on this
// machine, measured by the same load generators, on the same core, as Roster.
//
//   - REST: every path other than the two below answers 200 with one fixed JSON body (a user,
//     shaped like Roster's GET /api/v1/users/{id} answer), whatever the method.
//   - gRPC: scalekit.v1.users.UserService/GetUser (connect-go, gRPC protocol over h2c) answers
//     one fixed User, whatever the request; every other RPC is UNIMPLEMENTED. So ghz runs the
//     same code path in the client (protobuf, HTTP/2 framing) as it does against Roster, and the
//     server pays only for connect-go's framing and a protobuf marshal (no compression under
//     8 KiB, as in roster).
//   - A page of users: GET /api/v1/organizations/{id}/users and
//     UserService/ListOrganizationUsers answer one fixed page of 100 users (about 45 KB of
//     JSON), so that the report can show how many such pages the load generators can take in
//     at all (ghz decodes every user of every answer).
//   - GET /readyz answers "ok".
//
// Like roster serve, it speaks HTTP/1.1 and h2c on one port, and it does no logging, no auth,
// no database. It listens on loopback only.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"github.com/rosterhq/roster/gen/scalekit/v1/users/usersconnect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func fixedUser() *usersv1.User {
	ext, orgName := "bench-user-42", "Bench Org 42"
	ts := timestamppb.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	return &usersv1.User{
		Id:            "usr_383786134666313728",
		EnvironmentId: "env_383786134666313700",
		CreateTime:    ts,
		UpdateTime:    ts,
		Email:         "u42@bench.example.com",
		ExternalId:    &ext,
		Memberships: []*commons.OrganizationMembership{{
			OrganizationId: "org_383786193751474176",
			JoinTime:       ts,
			DisplayName:    &orgName,
			Metadata:       map[string]string{},
		}},
		UserProfile: &commons.UserProfile{Id: "usr_383786134666313728", GivenName: "X"},
		Metadata:    map[string]string{},
	}
}

// fixedPage is a first page of 100 users of an organization of 500.
func fixedPage() *usersv1.ListOrganizationUsersResponse {
	page := &usersv1.ListOrganizationUsersResponse{TotalSize: 500, NextPageToken: "nxt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
	for i := range 100 {
		u := fixedUser()
		ext := fmt.Sprintf("bench-user-%d", 1000+i)
		u.Id, u.Email, u.ExternalId = fmt.Sprintf("usr_3837861346663%05d", i), fmt.Sprintf("u%d@bench.example.com", 1000+i), &ext
		u.UserProfile.Id = u.Id
		page.Users = append(page.Users, u)
	}
	return page
}

type userService struct {
	usersconnect.UnimplementedUserServiceHandler
	resp *usersv1.GetUserResponse
	page *usersv1.ListOrganizationUsersResponse
}

func (s *userService) GetUser(context.Context, *connect.Request[usersv1.GetUserRequest]) (*connect.Response[usersv1.GetUserResponse], error) {
	return connect.NewResponse(s.resp), nil
}

func (s *userService) ListOrganizationUsers(context.Context, *connect.Request[usersv1.ListOrganizationUsersRequest]) (*connect.Response[usersv1.ListOrganizationUsersResponse], error) {
	return connect.NewResponse(s.page), nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8099", "loopback address to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "ceiling: --listen must be a loopback IP:port, got %q\n", *listen)
		os.Exit(2)
	}

	u := fixedUser()
	body, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&usersv1.GetUserResponse{User: u})
	if err != nil {
		panic(err)
	}

	page := fixedPage()
	pageBody, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(page)
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	// Like roster (api.New), compress only answers over 8 KiB: ghz, like the Scalekit SDKs,
	// accepts gzip, and connect-go would otherwise gzip every answer.
	mux.Handle(usersconnect.NewUserServiceHandler(&userService{resp: &usersv1.GetUserResponse{User: u}, page: page}, connect.WithCompressMinBytes(8<<10)))
	mux.HandleFunc("GET /api/v1/organizations/{id}/users", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(pageBody)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})

	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Addr: *listen, Handler: mux, Protocols: &p, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}
