package scim

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster/api/rest"
)

// Defaults of the Handler's limits.
const (
	// DefaultMaxBodyBytes bounds a request body: a PUT of a 20,000-member group (Okta's
	// AIW apps replace membership that way) is about 2 MB.
	DefaultMaxBodyBytes = 4 << 20
	// DefaultMaxDepth bounds the nesting of a body (a User is four levels deep).
	DefaultMaxDepth = 16
	// DefaultMaxValues bounds the members and elements of a body in all (three per group member).
	DefaultMaxValues = 100_000
	// DefaultCount is the page size when a list gives no count; MaxCount caps count.
	DefaultCount = 100
	MaxCount     = 1000
	// MaxCandidates bounds the resources read to evaluate a filter that the Backend's
	// indexes answer only in part (Filter.Query not exact): more is 400 tooMany.
	MaxCandidates = 1000
)

// ContentType is the media type of every answer (RFC 7644 section 3.1).
const ContentType = "application/scim+json"

// Handler serves the SCIM 2.0 protocol (RFC 7644) for the directory the bearer token opens,
// at one base URL: mount it with http.StripPrefix so that it sees /Users, /Groups/{id},
// /Schemas and so on.
type Handler struct {
	Backend Backend
	// BaseURL returns the absolute base URL of the endpoint (meta.location, $ref). When nil it
	// is taken from the request (Host, TLS and the prefix that was stripped).
	BaseURL func(r *http.Request) string
	// Logger receives internal errors (never tokens). Nil: slog.Default().
	Logger *slog.Logger
	// Limits; zero means the default.
	MaxBodyBytes int64
	MaxDepth     int
	MaxValues    int
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// request is one request's state.
type request struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context
	dir  Directory
	base string
	// verify is a deferred directory's Verify (DeferringBackend), nil when Open checked the
	// token: every answer waits for it (fail, and patch's success).
	verify func(context.Context) error
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{h: h, w: w, r: r, ctx: r.Context()}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.logger().Error("scim: panic", "method", r.Method, "path", r.URL.Path, "panic", p)
			rq.fail(errors.New("panic"))
		}
	}()
	rq.base = h.baseURL(r)
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		rq.fail(ErrUnauthorized)
		return
	}
	if b, ok := h.Backend.(DeferringBackend); ok && isGroupPatch(r) {
		d := b.Defer(token)
		rq.dir, rq.verify = d, d.Verify
		rq.route()
		return
	}
	dir, err := h.Backend.Open(rq.ctx, token)
	if err != nil {
		rq.fail(err)
		return
	}
	rq.dir = dir
	rq.route()
}

// isGroupPatch says whether r is a PATCH of one group (Okta's and Entra's member writes).
func isGroupPatch(r *http.Request) bool {
	first, rest, _ := strings.Cut(strings.Trim(r.URL.Path, "/"), "/")
	return r.Method == http.MethodPatch && strings.EqualFold(first, "Groups") && rest != "" && !strings.Contains(rest, "/")
}

// verified is nil when the request's token was accepted (at Open, or by a deferred
// directory's call, checking it now if none did), else the error to answer.
func (rq *request) verified() error {
	if rq.verify == nil {
		return nil
	}
	return rq.verify(rq.ctx)
}

// bearer reads "Bearer <token>" (the scheme in any case).
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// ConstantTimeEqual compares a token with a secret in constant time (for Backends).
func ConstantTimeEqual(token, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
}

func (h *Handler) baseURL(r *http.Request) string {
	if h.BaseURL != nil {
		return strings.TrimSuffix(h.BaseURL(r), "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	prefix := ""
	if full, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasSuffix(full, r.URL.Path) {
		prefix = strings.TrimSuffix(full, r.URL.Path)
	}
	return scheme + "://" + r.Host + prefix
}

func (rq *request) route() {
	path := strings.Trim(rq.r.URL.Path, "/")
	first, rest, _ := strings.Cut(path, "/")
	m := rq.r.Method
	switch {
	case strings.EqualFold(first, "Users") || strings.EqualFold(first, "Groups"):
		rt := Users
		if strings.EqualFold(first, "Groups") {
			rt = Groups
		}
		switch {
		case strings.Contains(rest, "/"):
			rq.fail(errorf(http.StatusNotFound, "", "no SCIM endpoint at %s", rq.r.URL.Path))
		case rest == "" && m == http.MethodGet:
			rq.list(rt)
		case rest == "" && m == http.MethodPost:
			rq.create(rt)
		case rest != "" && m == http.MethodGet:
			rq.get(rt, rest)
		case rest != "" && m == http.MethodPut:
			rq.replace(rt, rest)
		case rest != "" && m == http.MethodPatch:
			rq.patch(rt, rest)
		case rest != "" && m == http.MethodDelete:
			rq.delete(rt, rest)
		default:
			rq.methodNotAllowed(rest == "")
		}
	case strings.EqualFold(first, "ServiceProviderConfig") && rest == "":
		if m != http.MethodGet {
			rq.methodNotAllowed(true)
			return
		}
		rq.send(http.StatusOK, rq.serviceProviderConfig())
	case strings.EqualFold(first, "Schemas"):
		if m != http.MethodGet {
			rq.methodNotAllowed(true)
			return
		}
		rq.schemas(rest)
	case strings.EqualFold(first, "ResourceTypes"):
		if m != http.MethodGet {
			rq.methodNotAllowed(true)
			return
		}
		rq.resourceTypes(rest)
	default:
		rq.fail(errorf(http.StatusNotFound, "", "no SCIM endpoint at %s", rq.r.URL.Path))
	}
}

func (rq *request) methodNotAllowed(collection bool) {
	allow := "GET, PUT, PATCH, DELETE"
	if collection {
		allow = "GET, POST"
	}
	rq.w.Header().Set("Allow", allow)
	rq.fail(errorf(http.StatusMethodNotAllowed, "", "%s is not allowed here", rq.r.Method))
}

// --- answers

func (rq *request) send(status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		rq.h.logger().Error("scim: encoding an answer", "err", err)
		status, data = http.StatusInternalServerError, []byte(`{"schemas":["`+errorSchema+`"],"status":"500","detail":"internal error"}`)
	}
	rq.w.Header().Set("Content-Type", ContentType)
	rq.w.WriteHeader(status)
	rq.w.Write(data)
}

// fail answers with the SCIM error for err (RFC 7644 section 3.12).
func (rq *request) fail(err error) {
	// A deferred token is checked before any other error is told: a wrong one gets 401.
	if !errors.Is(err, ErrUnauthorized) {
		if verr := rq.verified(); verr != nil {
			err = verr
		}
	}
	e, ok := AsError(err)
	if !ok {
		rq.h.logger().Error("scim: internal error", "method", rq.r.Method, "path", rq.r.URL.Path, "err", err)
	}
	body := map[string]any{"schemas": []string{errorSchema}, "status": strconv.Itoa(e.Status)}
	if e.ScimType != "" {
		body["scimType"] = e.ScimType
	}
	if e.Detail != "" && e.Status != http.StatusUnauthorized {
		body["detail"] = e.Detail
	}
	if e.Status == http.StatusServiceUnavailable { // nothing written: the IdP may retry
		rq.w.Header().Set("Retry-After", "1")
	}
	if e.Status == http.StatusUnauthorized {
		rq.w.Header().Set("WWW-Authenticate", `Bearer realm="SCIM"`)
	}
	rq.send(e.Status, body)
}

// --- reading bodies

// readObject reads a JSON object body within the limits: bytes, nesting depth, values.
func (rq *request) readObject() (map[string]any, error) {
	h := rq.h
	maxBytes, maxDepth, maxValues := h.MaxBodyBytes, h.MaxDepth, h.MaxValues
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if maxValues <= 0 {
		maxValues = DefaultMaxValues
	}
	if rq.r.ContentLength > maxBytes {
		return nil, errorf(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(rq.r.Body, maxBytes+1))
	if err != nil {
		return nil, badRequest(TypeInvalidSyntax, "reading the request body: %v", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, errorf(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", maxBytes)
	}
	if err := rest.CheckShape(data, maxDepth, maxValues); err != nil {
		return nil, badRequest(TypeInvalidSyntax, "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var body any
	if err := dec.Decode(&body); err != nil {
		return nil, badRequest(TypeInvalidSyntax, "the body is not JSON: %v", err)
	}
	if dec.More() {
		return nil, badRequest(TypeInvalidSyntax, "the body holds more than one JSON value")
	}
	m, ok := body.(map[string]any)
	if !ok {
		return nil, badRequest(TypeInvalidSyntax, "the body must be a JSON object")
	}
	return m, nil
}

// --- resources

func (rq *request) projection(rt *ResourceType) *projection {
	q := rq.r.URL.Query()
	return newProjection(rt, q.Get("attributes"), q.Get("excludedAttributes"))
}

func (rq *request) render(rt *ResourceType, res *Resource, members []Member, p *projection) map[string]any {
	return p.apply(renderResource(rt, res, members, rq.base))
}

// sendResource answers with one resource, its Location and ETag.
func (rq *request) sendResource(status int, rt *ResourceType, res *Resource, p *projection) {
	var members []Member
	if rt == Groups && p.wants("members") {
		var err error
		if members, err = rq.dir.GroupMembers(rq.ctx, res.ID); err != nil {
			rq.fail(err)
			return
		}
	}
	if res.Version != "" {
		rq.w.Header().Set("ETag", etag(res.Version))
	}
	if status == http.StatusCreated {
		rq.w.Header().Set("Location", rq.base+rt.Endpoint+"/"+res.ID)
	}
	buf := getBuf()
	defer putBuf(buf)
	b, err := rq.appendResource(*buf, rt, res, members, p)
	*buf = b
	if err != nil {
		rq.fail(err)
		return
	}
	rq.sendBytes(status, b)
}

func etag(version string) string { return `W/"` + version + `"` }

// ifMatch checks If-Match against the current version (inside the Backend's update).
func (rq *request) ifMatch(cur *Resource) error {
	want := rq.r.Header.Get("If-Match")
	if want == "" || want == "*" {
		return nil
	}
	for _, v := range strings.Split(want, ",") {
		if strings.TrimSpace(v) == etag(cur.Version) {
			return nil
		}
	}
	return ErrPreconditionFailed
}

func (rq *request) get(rt *ResourceType, id string) {
	p := rq.projection(rt)
	res, err := rq.getResource(rt, id)
	if err != nil {
		rq.fail(err)
		return
	}
	if inm := rq.r.Header.Get("If-None-Match"); inm != "" && res.Version != "" && strings.Contains(inm, etag(res.Version)) {
		rq.w.Header().Set("ETag", etag(res.Version))
		rq.w.WriteHeader(http.StatusNotModified)
		return
	}
	rq.sendResource(http.StatusOK, rt, res, p)
}

func (rq *request) getResource(rt *ResourceType, id string) (*Resource, error) {
	if rt == Users {
		return rq.dir.GetUser(rq.ctx, id)
	}
	return rq.dir.GetGroup(rq.ctx, id)
}

// readResource reads a POST or PUT body: canonical attributes, and a Group's members.
func (rq *request) readResource(rt *ResourceType) (map[string]any, []string, error) {
	body, err := rq.readObject()
	if err != nil {
		return nil, nil, err
	}
	var members []string
	if rt == Groups {
		if _, v, ok := getFold(body, "members"); ok {
			if members, err = memberIDs(v); err != nil {
				return nil, nil, err
			}
		}
	}
	attrs, err := normalize(rt, body, bodyMode)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRequired(rt, attrs); err != nil {
		return nil, nil, err
	}
	return attrs, members, nil
}

func (rq *request) create(rt *ResourceType) {
	attrs, members, err := rq.readResource(rt)
	if err != nil {
		rq.fail(err)
		return
	}
	var res *Resource
	if rt == Users {
		res, err = rq.dir.CreateUser(rq.ctx, attrs)
	} else if err = rq.checkGroupName(groupName(attrs), ""); err == nil {
		res, err = rq.dir.CreateGroup(rq.ctx, attrs, members)
	}
	if err != nil {
		rq.fail(err)
		return
	}
	rq.sendResource(http.StatusCreated, rt, res, rq.projection(rt))
}

// replace is PUT: the resource becomes the body; attributes left out are cleared, read-only
// ones (id, meta) are kept; a Group's members become exactly the body's.
func (rq *request) replace(rt *ResourceType, id string) {
	attrs, members, err := rq.readResource(rt)
	if err != nil {
		rq.fail(err)
		return
	}
	var res *Resource
	if rt == Users {
		res, err = rq.dir.UpdateUser(rq.ctx, id, func(cur *Resource) (*Resource, error) {
			if err := rq.ifMatch(cur); err != nil {
				return nil, err
			}
			next := *cur
			next.Attributes, next.Raw = attrs, nil
			return &next, nil
		})
	} else {
		res, err = rq.updateGroup(id, func(cur *Resource) (*Resource, MemberChange, error) {
			if err := rq.ifMatch(cur); err != nil {
				return nil, MemberChange{}, err
			}
			next := *cur
			next.Attributes, next.Raw = attrs, nil
			return &next, MemberChange{Replace: true, Add: union(nil, members)}, nil
		})
	}
	if err != nil {
		rq.fail(err)
		return
	}
	rq.sendResource(http.StatusOK, rt, res, rq.projection(rt))
}

// patch applies a PatchOp. A User's answer is 200 with the user; a Group's is 204 (Entra
// expects it, Okta accepts it, and it spares listing a 20,000-member group) unless the
// request asks for attributes.
func (rq *request) patch(rt *ResourceType, id string) {
	body, err := rq.readObject()
	if err != nil {
		rq.fail(err)
		return
	}
	p, err := ParsePatch(rt, body)
	if err != nil {
		rq.fail(err)
		return
	}
	var res *Resource
	if rt == Users {
		res, err = rq.dir.UpdateUser(rq.ctx, id, func(cur *Resource) (*Resource, error) {
			if err := rq.ifMatch(cur); err != nil {
				return nil, err
			}
			return p.Apply(cur)
		})
	} else {
		res, err = rq.updateGroup(id, func(cur *Resource) (*Resource, MemberChange, error) {
			if err := rq.ifMatch(cur); err != nil {
				return nil, MemberChange{}, err
			}
			return p.ApplyGroup(cur)
		})
	}
	if err == nil {
		err = rq.verified() // the update accepted the token; nothing answers before it did
	}
	if err != nil {
		rq.fail(err)
		return
	}
	q := rq.r.URL.Query()
	if rt == Groups && q.Get("attributes") == "" && q.Get("excludedAttributes") == "" {
		if res.Version != "" {
			rq.w.Header().Set("ETag", etag(res.Version))
		}
		rq.w.WriteHeader(http.StatusNoContent)
		return
	}
	rq.sendResource(http.StatusOK, rt, res, rq.projection(rt))
}

// A group's displayName is unique in its directory, compared case-insensitively as the
// filter compares it: Entra matches groups by `displayName eq` and requires it ("Groups must
// have uniqueness on the 'displayName' value", use-scim-to-provision-users-and-groups.md).
// The handler checks it through the Backend's list, before a create and, for a rename, before
// the update is run again with that name allowed, so an update that keeps the name (every
// member PATCH, Okta's path-less rename sent with each membership update) costs nothing more.
// Two requests giving two groups one new name at the same moment can both pass this check; a
// Backend's store refuses the second (Roster's unique index, docs/scim.md "Group names are
// unique"), which answers 409 as well.

// groupName is the displayName of a Group's canonical attributes.
func groupName(attrs map[string]any) string {
	s, _ := attrs["displayName"].(string)
	return s
}

// checkGroupName refuses name when a group other than self has it (409 uniqueness).
func (rq *request) checkGroupName(name, self string) error {
	if name == "" {
		return nil
	}
	page, err := rq.dir.ListGroups(rq.ctx, ListQuery{Filter: &Cond{Op: "eq", Attr: "displayName", Value: name}, StartIndex: 1, Count: 2})
	if err != nil {
		return err
	}
	for _, g := range page.Resources {
		if err := g.decode(); err != nil {
			return err
		}
		if g.ID != self {
			return errorf(http.StatusConflict, TypeUniqueness, "another group of this directory is named %q (displayName is unique, compared case-insensitively)", groupName(g.Attributes))
		}
	}
	return nil
}

// errRename stops an update that renames a group to a name not checked yet.
var errRename = errors.New("scim: the group's new displayName must be checked first")

// updateGroup is Directory.UpdateGroup that keeps displayName unique: when update renames the
// group, the transaction is given up, the new name checked, and the update run again with
// that name allowed (a few times at most, if the group keeps changing meanwhile).
func (rq *request) updateGroup(id string, update func(*Resource) (*Resource, MemberChange, error)) (*Resource, error) {
	allowed := ""
	for range 3 {
		var rename string
		res, err := rq.dir.UpdateGroup(rq.ctx, id, func(cur *Resource) (*Resource, MemberChange, error) {
			next, mc, err := update(cur)
			if err != nil {
				return nil, MemberChange{}, err
			}
			name := groupName(next.Attributes)
			if name != allowed && !strings.EqualFold(name, groupName(cur.Attributes)) {
				rename = name
				return nil, MemberChange{}, errRename
			}
			return next, mc, nil
		})
		if !errors.Is(err, errRename) {
			return res, err
		}
		if err := rq.checkGroupName(rename, id); err != nil {
			return nil, err
		}
		allowed = rename
	}
	return nil, errorf(http.StatusConflict, "", "the group changed while it was being renamed; send the request again")
}

func (rq *request) delete(rt *ResourceType, id string) {
	var err error
	if rt == Users {
		err = rq.dir.DeleteUser(rq.ctx, id)
	} else {
		err = rq.dir.DeleteGroup(rq.ctx, id)
	}
	if err != nil {
		rq.fail(err)
		return
	}
	rq.w.WriteHeader(http.StatusNoContent)
}

// list answers GET /Users and GET /Groups: filter, startIndex (1-based), count (default
// DefaultCount, at most MaxCount, 0 for the total only), attributes / excludedAttributes.
func (rq *request) list(rt *ResourceType) {
	q := rq.r.URL.Query()
	start, err := intParam(q.Get("startIndex"), 1)
	if err != nil {
		rq.fail(err)
		return
	}
	if start < 1 {
		start = 1
	}
	count, err := intParam(q.Get("count"), DefaultCount)
	if err != nil {
		rq.fail(err)
		return
	}
	count = max(0, min(count, MaxCount))
	lq := ListQuery{StartIndex: start, Count: count}
	var f *Filter
	exact := true
	if text := q.Get("filter"); strings.TrimSpace(text) != "" {
		if f, err = ParseFilter(rt, text); err != nil {
			rq.fail(err)
			return
		}
		var c Cond
		if c, exact, err = f.Query(); err != nil {
			rq.fail(err)
			return
		}
		lq.Filter = &c
	}
	var page Page
	if exact {
		page, err = rq.listPage(rt, lq)
	} else {
		page, err = rq.listInMemory(rt, lq, f)
	}
	if err != nil {
		rq.fail(err)
		return
	}
	// One buffer, each resource appended to it as it is written (see render.go): from its Raw
	// when no projection applies, else through the map path.
	p := rq.projection(rt)
	buf := getBuf()
	defer putBuf(buf)
	b := appendListHead(*buf)
	for i, res := range page.Resources {
		var members []Member
		if rt == Groups && p.wants("members") {
			if members, err = rq.dir.GroupMembers(rq.ctx, res.ID); err != nil {
				rq.fail(err)
				return
			}
		}
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = rq.appendResource(b, rt, res, members, p); err != nil {
			*buf = b
			rq.fail(err)
			return
		}
	}
	b = appendListTail(b, len(page.Resources), start, page.TotalResults)
	*buf = b
	rq.sendBytes(http.StatusOK, b)
}

func (rq *request) listPage(rt *ResourceType, lq ListQuery) (Page, error) {
	if rt == Users {
		return rq.dir.ListUsers(rq.ctx, lq)
	}
	return rq.dir.ListGroups(rq.ctx, lq)
}

// listInMemory answers a filter that the indexes answer only in part: it reads the
// candidates (at most MaxCandidates), keeps those that match and pages them.
func (rq *request) listInMemory(rt *ResourceType, lq ListQuery, f *Filter) (Page, error) {
	cand, err := rq.listPage(rt, ListQuery{Filter: lq.Filter, StartIndex: 1, Count: MaxCandidates + 1})
	if err != nil {
		return Page{}, err
	}
	if cand.TotalResults > MaxCandidates || len(cand.Resources) > MaxCandidates {
		return Page{}, badRequest(TypeTooMany, "the filter's indexed part matches more than %d resources: narrow it with %s",
			MaxCandidates, strings.Join(indexed[rt], ", "))
	}
	var all []*Resource
	for _, r := range cand.Resources {
		if err := r.decode(); err != nil {
			return Page{}, err
		}
		if f.Match(r) {
			all = append(all, r)
		}
	}
	page := Page{TotalResults: len(all)}
	if i := lq.StartIndex - 1; i < len(all) {
		page.Resources = all[i:min(len(all), i+lq.Count)]
	}
	return page, nil
}

func intParam(s string, def int) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest(TypeInvalidValue, "%q is not an integer", s)
	}
	return n, nil
}

// --- rendering

// renderResource builds the RFC form of a resource: its attributes, id, schemas (the core
// schema, then each extension present) and meta; a Group's members when given.
func renderResource(rt *ResourceType, res *Resource, members []Member, base string) map[string]any {
	out := make(map[string]any, len(res.Attributes)+4)
	schemas := []string{rt.Schema.ID}
	for k, v := range res.Attributes {
		out[k] = v
		if isURN(k) {
			schemas = append(schemas, k)
		}
	}
	if _, ok := out["active"]; rt == Users && !ok {
		out["active"] = true // a User that never sent active is active (Resource.Active)
	}
	sortStrings(schemas[1:])
	out["schemas"] = schemas
	out["id"] = res.ID
	meta := map[string]any{"resourceType": rt.Name, "location": base + rt.Endpoint + "/" + res.ID}
	if !res.Created.IsZero() {
		meta["created"] = res.Created.UTC().Format(time.RFC3339Nano)
	}
	if !res.LastModified.IsZero() {
		meta["lastModified"] = res.LastModified.UTC().Format(time.RFC3339Nano)
	}
	if res.Version != "" {
		meta["version"] = etag(res.Version)
	}
	out["meta"] = meta
	if len(members) > 0 {
		list := make([]any, len(members))
		for i, m := range members {
			typ := m.Type
			if typ == "" {
				typ = "User"
			}
			e := map[string]any{"value": m.Value, "type": typ, "$ref": base + "/" + typ + "s/" + m.Value}
			if m.Display != "" {
				e["display"] = m.Display
			}
			list[i] = e
		}
		out["members"] = list
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
