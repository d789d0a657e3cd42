package api

import (
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/directory"
	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxMessageBytes bounds one request message on every protocol.
const MaxMessageBytes = 1 << 20

// Config is what the API needs.
type Config struct {
	Directory *directory.Service
	Verifier  Verifier
	Log       *slog.Logger
	Metrics   prometheus.Registerer
}

// Handlers are the API's HTTP handlers: RPC serves gRPC, gRPC-Web and Connect at
// /<package.Service>/<Method>; REST serves /api/v1/... .
type Handlers struct {
	RPC        http.Handler
	REST       *rest.Transcoder
	procedures map[string]bool
}

// Procedure names the RPC that a request calls, through gRPC/Connect or a REST route.
func (h *Handlers) Procedure(r *http.Request) (string, bool) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return h.REST.Match(r)
	}
	return r.URL.Path, h.procedures[r.URL.Path]
}

// New builds the API handlers.
func New(cfg Config) (*Handlers, error) {
	ic := newInterceptors(cfg.Log, cfg.Verifier, cfg.Directory.Store(), cfg.Metrics)
	opts := []connect.HandlerOption{ic.chain(), connect.WithReadMaxBytes(MaxMessageBytes), connect.WithSendMaxBytes(8 * MaxMessageBytes)}
	mux := http.NewServeMux()
	mux.Handle(organizationsconnect.NewOrganizationServiceHandler(&organizations{dir: cfg.Directory}, opts...))
	services := []protoreflect.ServiceDescriptor{
		orgsv1.File_scalekit_v1_organizations_organizations_proto.Services().ByName("OrganizationService"),
	}
	tr, err := rest.New(mux, services, rest.WithMaxBodySize(MaxMessageBytes), rest.WithErrorDetail(transcoderErrorInfo))
	if err != nil {
		return nil, err
	}
	procs := map[string]bool{}
	for _, sd := range services {
		for i := 0; i < sd.Methods().Len(); i++ {
			procs["/"+string(sd.FullName())+"/"+string(sd.Methods().Get(i).Name())] = true
		}
	}
	return &Handlers{RPC: mux, REST: tr, procedures: procs}, nil
}
