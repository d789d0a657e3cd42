package scimdir

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/scim"
)

// Handler serves every directory's SCIM endpoint under directory.SCIMPathPrefix: the path's
// next segment names the directory, whose token alone opens it (Backend.Open), and the SCIM
// handler sees the rest (/Users, /Groups, ...) with BaseURL the directory's
// directory_endpoint.
func Handler(svc *directory.Service, issuer string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, directory.SCIMPathPrefix)
		dirID, _, _ := strings.Cut(rest, "/")
		if _, ok := roster.IDNumber(dirID, roster.PrefixDirectory); !ok || len(dirID) > 64 {
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"no such directory endpoint"}` + "\n"))
			return
		}
		base := directory.SCIMEndpoint(issuer, dirID)
		opened := false
		h := &scim.Handler{Backend: openedBackend{Backend{Service: svc, DirectoryID: dirID}, &opened}, Logger: log,
			BaseURL: func(*http.Request) string { return base }}
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		http.StripPrefix(directory.SCIMPathPrefix+dirID, h).ServeHTTP(rec, r)
		// The directory's latest requests (the dashboard shows them): authenticated ones only,
		// so that no one without the token can push them out.
		if opened {
			path := strings.TrimPrefix(r.URL.Path, directory.SCIMPathPrefix+dirID)
			svc.RecordSCIMRequest(dirID, r.Method, path, rec.status)
		}
	})
}

// openedBackend notes that the request's token opened the directory.
type openedBackend struct {
	Backend
	opened *bool
}

func (b openedBackend) Open(ctx context.Context, token string) (scim.Directory, error) {
	d, err := b.Backend.Open(ctx, token)
	*b.opened = err == nil
	return d, err
}

// Defer's directory notes it when its token is accepted.
func (b openedBackend) Defer(token string) scim.DeferredDirectory {
	return &deferred{b: b.Backend, token: token, accepted: b.opened}
}

// statusWriter notes the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
