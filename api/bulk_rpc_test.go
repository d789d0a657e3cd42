package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster/api"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"github.com/rosterhq/roster/internal/rostertest"
)

// bearerHeader sets the token on every call, streaming ones included.
func bearerHeader(token string) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// decodeLines reads generated NDJSON into users, as the REST import reads them.
func decodeLines(t *testing.T, data []byte) []*usersv1.User {
	t.Helper()
	var out []*usersv1.User
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		u, err := api.DecodeUserLine(line)
		if err != nil {
			t.Fatalf("generated line %s: %v", line, err)
		}
		out = append(out, u)
	}
	return out
}

// The gRPC client stream and server stream, through a real gRPC client on h2c, as the
// Scalekit SDKs speak it.
func TestBulkGRPC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		defineAttribute(t, r, token, `{"key": "department", "display_name": "Department"}`)
		orgs := []string{newOrgREST(t, r, token, "One"), newOrgREST(t, r, token, "Two")}
		c := rosterv1connect.NewBulkServiceClient(h2cClient(), r.URL, connect.WithGRPC())
		ctx := context.Background()

		var file bytes.Buffer
		genUsers(&file, 1, 250, orgs)
		users := decodeLines(t, file.Bytes())
		users[6].Email = "not-an-email"                                 // line 7
		users[199].UserProfile.CustomAttributes["shoe_size"] = "42"     // line 200
		users[200].Memberships[0].OrganizationId = "org_99999999999999" // line 201

		stream := c.ImportUsers(ctx)
		for k, v := range bearerHeader(token) {
			stream.RequestHeader()[k] = v
		}
		for i := 0; i < len(users); i += 100 {
			if err := stream.Send(&rosterv1.ImportUsersRequest{Users: users[i:min(i+100, len(users))]}); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		res, err := stream.CloseAndReceive()
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		m := res.Msg
		if m.Lines != 250 || m.Created != 247 || m.Failed != 3 || len(m.Errors) != 3 {
			t.Fatalf("import answer: %v", m)
		}
		for i, want := range []struct {
			line  uint64
			field string
		}{{7, "email"}, {200, "user_profile.custom_attributes"}, {201, "memberships[0].organization_id"}} {
			e := m.Errors[i]
			if e.Line != want.line || len(e.FieldViolations) == 0 || e.FieldViolations[0].Field != want.field || e.Code == "" || e.Message == "" {
				t.Errorf("error %d: %v, want line %d naming %s", i, e, want.line, want.field)
			}
		}
		if m.Errors[1].Email != "user200@example.com" || m.Errors[1].ExternalId != "ext-200" {
			t.Errorf("error of line 200 names %q %q", m.Errors[1].Email, m.Errors[1].ExternalId)
		}

		// Without a token: refused, and nothing written.
		anon := c.ImportUsers(ctx)
		_ = anon.Send(&rosterv1.ImportUsersRequest{Users: users[:1]})
		if _, err := anon.CloseAndReceive(); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("import without a token: %v, want UNAUTHENTICATED", err)
		}
		// Too many users in one message.
		big := c.ImportUsers(ctx)
		for k, v := range bearerHeader(token) {
			big.RequestHeader()[k] = v
		}
		many := make([]*usersv1.User, 1001)
		for i := range many {
			many[i] = &usersv1.User{Email: fmt.Sprintf("many%d@example.com", i)}
		}
		_ = big.Send(&rosterv1.ImportUsersRequest{Users: many})
		if _, err := big.CloseAndReceive(); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("1001 users in one message: %v, want INVALID_ARGUMENT", err)
		}

		// Export: every imported user, with what was imported.
		req := connect.NewRequest(&rosterv1.ExportUsersRequest{})
		for k, v := range bearerHeader(token) {
			req.Header()[k] = v
		}
		out, err := c.ExportUsers(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		byExt := map[string]*usersv1.User{}
		for out.Receive() {
			for _, u := range out.Msg().Users {
				byExt[u.GetExternalId()] = u
			}
		}
		if err := out.Err(); err != nil {
			t.Fatalf("export: %v", err)
		}
		if len(byExt) != 247 {
			t.Fatalf("export has %d users, want 247", len(byExt))
		}
		for i, in := range users {
			if i == 6 || i == 199 || i == 200 {
				continue
			}
			got := byExt[in.GetExternalId()]
			if got == nil {
				t.Fatalf("user %s missing from the export", in.GetExternalId())
			}
			if d := writableDiff(in, got); d != "" {
				t.Fatalf("user %s: %s", in.GetExternalId(), d)
			}
		}
		anonReq := connect.NewRequest(&rosterv1.ExportUsersRequest{OrganizationId: orgs[0]})
		s, err := c.ExportUsers(ctx, anonReq)
		if err == nil {
			for s.Receive() {
				t.Fatal("an export without a token sent users")
			}
			err = s.Err()
		}
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("export without a token: %v, want UNAUTHENTICATED", err)
		}
	})
}
