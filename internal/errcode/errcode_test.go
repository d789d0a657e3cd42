package errcode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
)

// domainCodes reads the Code constants declared by package roster (../../error.go), so that
// a code added there without a mapping here fails the test.
func domainCodes(t *testing.T) []roster.Code {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "error.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []roster.Code
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, val := range v.Values {
				s, err := strconv.Unquote(val.(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, roster.Code(s))
			}
		}
	}
	if len(out) < 9 {
		t.Fatalf("only %d codes read from error.go: %v", len(out), out)
	}
	return out
}

func TestEveryCodeMapped(t *testing.T) {
	codes := domainCodes(t)
	all := All()
	for _, c := range codes {
		if !slices.Contains(all, c) {
			t.Errorf("roster.Code %s has no gRPC status in errcode", c)
		}
		if back, ok := FromConnect(Connect(c)); !ok || back != c {
			t.Errorf("%s → %s → %s: not one to one", c, Connect(c), back)
		}
	}
	if len(all) != len(codes) {
		t.Errorf("errcode maps %d codes, roster declares %d", len(all), len(codes))
	}
}

// The statuses as the REST API (grpc-gateway's rules) answers them.
func TestHTTP(t *testing.T) {
	for c, want := range map[roster.Code]int{
		roster.EInvalid:            http.StatusBadRequest,
		roster.ENotFound:           http.StatusNotFound,
		roster.EConflict:           http.StatusConflict,
		roster.EFailedPrecondition: http.StatusBadRequest,
		roster.EUnauthenticated:    http.StatusUnauthorized,
		roster.EPermissionDenied:   http.StatusForbidden,
		roster.EUnimplemented:      http.StatusNotImplemented,
		roster.EUnavailable:        http.StatusServiceUnavailable,
		roster.EInternal:           http.StatusInternalServerError,
		"NO_SUCH_CODE":             http.StatusInternalServerError,
	} {
		if got := HTTP(c); got != want {
			t.Errorf("HTTP(%s) = %d, want %d", c, got, want)
		}
	}
	if Connect("NO_SUCH_CODE") != connect.CodeInternal {
		t.Error("an unknown code is not INTERNAL")
	}
}
