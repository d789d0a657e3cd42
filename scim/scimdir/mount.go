package scimdir

import (
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
		h := &scim.Handler{Backend: Backend{Service: svc, DirectoryID: dirID}, Logger: log,
			BaseURL: func(*http.Request) string { return base }}
		http.StripPrefix(directory.SCIMPathPrefix+dirID, h).ServeHTTP(w, r)
	})
}
