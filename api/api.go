package api

import (
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/api/userjson"
	"github.com/rosterhq/roster/directory"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	connv1 "github.com/rosterhq/roster/gen/scalekit/v1/connections"
	"github.com/rosterhq/roster/gen/scalekit/v1/connections/connectionsconnect"
	dirv1 "github.com/rosterhq/roster/gen/scalekit/v1/directories"
	"github.com/rosterhq/roster/gen/scalekit/v1/directories/directoriesconnect"
	domainsv1 "github.com/rosterhq/roster/gen/scalekit/v1/domains"
	"github.com/rosterhq/roster/gen/scalekit/v1/domains/domainsconnect"
	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
	rolesv1 "github.com/rosterhq/roster/gen/scalekit/v1/roles"
	"github.com/rosterhq/roster/gen/scalekit/v1/roles/rolesconnect"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"github.com/rosterhq/roster/gen/scalekit/v1/users/usersconnect"
	"github.com/rosterhq/roster/webhooks"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxMessageBytes bounds one request message on every protocol.
const MaxMessageBytes = 1 << 20

// DefaultJSONMemoBytes bounds the memory of the REST answers' remembered JSON
// (rest.WithJSONMemo) unless Config.JSONMemoBytes says otherwise. Users are not remembered
// (userjson writes them faster than the memo finds them in a large directory); organizations
// take about 350 bytes each, so this holds about 12,000 of them (docs/memory.md).
const DefaultJSONMemoBytes = 4 << 20

// deterministicProto is connect's protobuf codec with map entries marshalled in key order, so
// that equal messages have equal bytes and the REST JSON memo recognizes them.
type deterministicProto struct{}

func (deterministicProto) Name() string { return "proto" }

func (deterministicProto) Marshal(m any) ([]byte, error) {
	return deterministicProto{}.MarshalAppend(nil, m)
}

func (deterministicProto) MarshalAppend(b []byte, m any) ([]byte, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot marshal %T: not a protobuf message", m)
	}
	return proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, msg)
}

func (deterministicProto) Unmarshal(b []byte, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot unmarshal into %T: not a protobuf message", m)
	}
	return proto.Unmarshal(b, msg)
}

// Config is what the API needs.
type Config struct {
	Directory *directory.Service
	Verifier  Verifier
	Log       *slog.Logger
	Metrics   prometheus.Registerer
	// Webhooks manages webhook endpoints (nil: the WebhookService answers FAILED_PRECONDITION).
	Webhooks *webhooks.Service
	// Issuer is Roster's public URL (connections show the URLs to register at providers).
	Issuer string
	// JSONMemoBytes bounds the REST JSON memo (keys and values): 0 means DefaultJSONMemoBytes,
	// a negative value keeps no memo (users are still written by userjson; the rest of every
	// REST answer goes through protojson).
	JSONMemoBytes int
}

// Handlers are the API's HTTP handlers: RPC serves gRPC, gRPC-Web and Connect at
// /<package.Service>/<Method>; REST serves /api/v1/... .
type Handlers struct {
	RPC  http.Handler
	REST *rest.Transcoder
	// Bulk serves ImportPath and ExportPath, the streamed NDJSON import and export.
	Bulk       http.Handler
	procedures map[string]bool
}

// Procedure names the RPC that a request calls, through gRPC/Connect or a REST route.
func (h *Handlers) Procedure(r *http.Request) (string, bool) {
	switch r.URL.Path {
	case ImportPath:
		return bulkImportProcedure, true
	case ExportPath:
		return bulkExportProcedure, true
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return h.REST.Match(r)
	}
	return r.URL.Path, h.procedures[r.URL.Path]
}

// Streaming reports whether r is a bulk import or export (REST or gRPC), whose bodies and
// answers stream for as long as a file takes: the server bounds them by its idle-read deadline
// and minimum rate, not by its request timeout or body size cap (docs/import-export.md).
func (h *Handlers) Streaming(r *http.Request) bool {
	switch r.URL.Path {
	case ImportPath, ExportPath, bulkImportProcedure, bulkExportProcedure:
		return true
	}
	return false
}

// New builds the API handlers.
func New(cfg Config) (*Handlers, error) {
	ic := newInterceptors(cfg.Log, cfg.Verifier, cfg.Directory.Store(), cfg.Metrics)
	// Compressing small answers costs more CPU than it saves on the wire; larger ones (a page
	// of users) are gzipped at the fastest level: about a third of the default level's CPU
	// for a page of 100 users (BenchmarkListOrganizationUsersPage100).
	opts := []connect.HandlerOption{ic.chain(), connect.WithReadMaxBytes(MaxMessageBytes), connect.WithSendMaxBytes(8 * MaxMessageBytes),
		connect.WithCompressMinBytes(8 << 10), connect.WithCompression("gzip", newGzipReader, newGzipWriter),
		connect.WithCodec(deterministicProto{}), connect.WithCodec(boundedJSON{"json"}), connect.WithCodec(boundedJSON{"json; charset=utf-8"})}
	mux := http.NewServeMux()
	mux.Handle(organizationsconnect.NewOrganizationServiceHandler(&organizations{dir: cfg.Directory}, opts...))
	mux.Handle(usersconnect.NewUserServiceHandler(&users{dir: cfg.Directory}, opts...))
	mux.Handle(rolesconnect.NewRolesServiceHandler(&roles{dir: cfg.Directory}, opts...))
	mux.Handle(rosterv1connect.NewUserAttributeServiceHandler(&attributes{dir: cfg.Directory}, opts...))
	mux.Handle(connectionsconnect.NewConnectionServiceHandler(&connections{dir: cfg.Directory, issuer: cfg.Issuer}, opts...))
	mux.Handle(domainsconnect.NewDomainServiceHandler(&domains{dir: cfg.Directory}, opts...))
	mux.Handle(directoriesconnect.NewDirectoryServiceHandler(&directories{dir: cfg.Directory, issuer: cfg.Issuer}, opts...))
	mux.Handle(rosterv1connect.NewSAMLSettingsServiceHandler(&samlSettings{dir: cfg.Directory}, opts...))
	mux.Handle(rosterv1connect.NewBulkServiceHandler(&bulk{dir: cfg.Directory}, opts...))
	mux.Handle(rosterv1connect.NewDirectoryMappingServiceHandler(&directoryMapping{dir: cfg.Directory}, opts...))
	mux.Handle(rosterv1connect.NewUserProvenanceServiceHandler(&provenance{dir: cfg.Directory}, opts...))
	mux.Handle(rosterv1connect.NewEventServiceHandler(&events{dir: cfg.Directory}, opts...))
	mux.Handle(rosterv1connect.NewWebhookServiceHandler(&webhookEndpoints{svc: cfg.Webhooks}, opts...))
	services := []protoreflect.ServiceDescriptor{
		orgsv1.File_scalekit_v1_organizations_organizations_proto.Services().ByName("OrganizationService"),
		usersv1.File_scalekit_v1_users_users_proto.Services().ByName("UserService"),
		rolesv1.File_scalekit_v1_roles_roles_proto.Services().ByName("RolesService"),
		rosterv1.File_roster_v1_user_attributes_proto.Services().ByName("UserAttributeService"),
		connv1.File_scalekit_v1_connections_connections_proto.Services().ByName("ConnectionService"),
		domainsv1.File_scalekit_v1_domains_domains_proto.Services().ByName("DomainService"),
		dirv1.File_scalekit_v1_directories_directories_proto.Services().ByName("DirectoryService"),
		rosterv1.File_roster_v1_saml_settings_proto.Services().ByName("SAMLSettingsService"),
		rosterv1.File_roster_v1_bulk_proto.Services().ByName("BulkService"), // no REST rules: bulkREST serves its routes
		rosterv1.File_roster_v1_directory_mapping_proto.Services().ByName("DirectoryMappingService"),
		rosterv1.File_roster_v1_user_provenance_proto.Services().ByName("UserProvenanceService"),
		rosterv1.File_roster_v1_events_proto.Services().ByName("EventService"),
		rosterv1.File_roster_v1_webhooks_proto.Services().ByName("WebhookService"),
	}
	restOpts := []rest.Option{rest.WithMaxBodySize(MaxMessageBytes), rest.WithErrorDetail(transcoderErrorInfo),
		rest.WithAuthenticate(ic.authenticateREST),
		rest.WithJSONRewrite("scalekit.v1.users.CreateUser", createUserRoles),
		rest.WithJSONRewrite("scalekit.v1.users.CreateMembership", membershipRoles),
		rest.WithJSONRewrite("scalekit.v1.users.UpdateMembership", membershipRoles)}
	// The users of REST answers (one user, a page, a search) are written by userjson, which
	// writes protojson's bytes several times faster (docs/rest.md).
	restOpts = append(restOpts, rest.WithJSONEncoder("scalekit.v1.users.User", userjson.AppendWire))
	memo := cfg.JSONMemoBytes
	if memo == 0 {
		memo = DefaultJSONMemoBytes
	}
	if memo > 0 {
		// The organizations of REST answers, and the rest of the answers that hold users, skip
		// protojson when their bytes were seen before: see rest.WithJSONMemo. Its entries are
		// keyed by those bytes, so several nodes on one database never see stale JSON from it.
		restOpts = append(restOpts, rest.WithJSONMemo(memo, "scalekit.v1.organizations.Organization"))
	}
	tr, err := rest.New(mux, services, restOpts...)
	if err != nil {
		return nil, err
	}
	procs := map[string]bool{}
	for _, sd := range services {
		for i := 0; i < sd.Methods().Len(); i++ {
			procs["/"+string(sd.FullName())+"/"+string(sd.Methods().Get(i).Name())] = true
		}
	}
	ic.procedure = tr.Match
	return &Handlers{RPC: mux, REST: tr, Bulk: &bulkREST{dir: cfg.Directory, ic: ic, log: cfg.Log}, procedures: procs}, nil
}

// rolesAsNames accepts roles given as a role name or a list of names, as the Scalekit
// documentation's curl example sends them ("roles": "admin"), besides the list of Role objects
// of the wire format.
func rolesAsNames(roles any) any {
	named := func(v any) any {
		if s, ok := v.(string); ok {
			return map[string]any{"name": s}
		}
		return v
	}
	switch r := roles.(type) {
	case string:
		return []any{named(r)}
	case []any:
		for i := range r {
			r[i] = named(r[i])
		}
		return r
	}
	return roles
}

// membershipRoles rewrites the "roles" of a CreateMembership or UpdateMembership body.
func membershipRoles(body any) any {
	if m, ok := body.(map[string]any); ok {
		if r, ok := m["roles"]; ok {
			m["roles"] = rolesAsNames(r)
		}
	}
	return body
}

// createUserRoles rewrites the "roles" of the membership inside a CreateUser body.
func createUserRoles(body any) any {
	if m, ok := body.(map[string]any); ok {
		membershipRoles(m["membership"])
	}
	return body
}

func newGzipReader() connect.Decompressor { return new(gzip.Reader) }

func newGzipWriter() connect.Compressor {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // the level is valid, so no error
	return w
}
