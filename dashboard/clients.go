package dashboard

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// API clients (issue 14): list, create (the secret shown once, on the page the creation
// leads to, as `roster clients create` prints it once), redirect URIs, revoke. Through the
// directory.Service calls the CLI makes: CreateClient, SetRedirectURIs, RevokeClient.

func (h *Handler) registerClients(m *http.ServeMux) {
	for _, p := range []string{"clients", "client", "client-revoke"} {
		h.pages[p] = h.parsePage(p)
	}
	m.HandleFunc("GET "+Prefix+"/clients", h.session(h.clients))
	m.HandleFunc("POST "+Prefix+"/clients", h.session(h.createClient))
	m.HandleFunc("GET "+Prefix+"/clients/{id}", h.session(h.client))
	m.HandleFunc("POST "+Prefix+"/clients/{id}/redirect-uris", h.session(h.setRedirectURIs))
	m.HandleFunc("GET "+Prefix+"/clients/{id}/revoke", h.session(h.confirmRevoke))
	m.HandleFunc("POST "+Prefix+"/clients/{id}/revoke", h.session(h.revokeClient))
}

type clientForm struct {
	Name, RedirectURIs string
}

type clientsData struct {
	Clients []roster.APIClient
	Form    clientForm
}

func (h *Handler) clientsPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, f clientForm) {
	list, err := h.cfg.Directory.ListClients(r.Context(), h.cfg.Environment)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p.Title, p.Nav, p.Operator, p.CSRF = "API clients", "clients", &s.op, s.csrf
	p.Data = clientsData{Clients: list, Form: f}
	h.render(w, status, "clients", p)
}

func (h *Handler) clients(w http.ResponseWriter, r *http.Request, s request) {
	notice := ""
	if q := r.URL.Query(); q.Get("done") == "revoked" {
		notice = "API client " + q.Get("id") + " revoked: it can no longer get tokens, and its tokens stop working."
	}
	h.clientsPage(w, r, s, http.StatusOK, page{Notice: notice}, clientForm{})
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// createClient creates a client as `roster clients create` does (redirect URIs checked
// first), then sends the browser to the client's page with the secret in a sealed one-time
// cookie: the page shows it once and clears it, so a reload does not show it again.
func (h *Handler) createClient(w http.ResponseWriter, r *http.Request, s request) {
	f := clientForm{Name: r.PostFormValue("name"), RedirectURIs: r.PostFormValue("redirect_uris")}
	uris := lines(f.RedirectURIs)
	fail := func(err error) {
		h.clientsPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fieldErrors(err, "name", "redirect_uris")}, f)
	}
	if err := roster.CheckRedirectURIs(uris); err != nil {
		fail(err)
		return
	}
	nc, err := h.cfg.Directory.CreateClient(r.Context(), h.cfg.Environment, f.Name, "", "")
	if err != nil {
		fail(err)
		return
	}
	if len(uris) > 0 {
		if err := h.cfg.Directory.SetRedirectURIs(r.Context(), nc.Client.ID, uris); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	note(r, "client.create", nc.Client.ID)
	c := h.cookie(h.secretCookieName(), h.sealSecret(s.token, nc.Client.ID, nc.Secret), time.Now().Add(5*time.Minute))
	http.SetCookie(w, c)
	http.Redirect(w, r, Prefix+"/clients/"+url.PathEscape(nc.Client.ID)+"?done=created", http.StatusSeeOther)
}

type clientData struct {
	Client       roster.APIClient
	Secret       string // only on the page right after creation
	RedirectURIs string
}

func (h *Handler) clientPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, c roster.APIClient, uris, secret string) {
	p.Title, p.Nav, p.Operator, p.CSRF = c.Name, "clients", &s.op, s.csrf
	p.Data = clientData{Client: c, RedirectURIs: uris, Secret: secret}
	h.render(w, status, "client", p)
}

func (h *Handler) client(w http.ResponseWriter, r *http.Request, s request) {
	c, err := h.cfg.Directory.GetClient(r.Context(), h.cfg.Environment, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, secret := page{}, ""
	if ck, err := r.Cookie(h.secretCookieName()); err == nil {
		h.clearCookie(w, h.secretCookieName()) // shown once
		if id, sec, ok := h.openSecret(s.token, ck.Value); ok && id == c.ID {
			secret = sec
			p.Notice = "API client created. Copy its secret now: it is shown only this once."
		}
	}
	switch r.URL.Query().Get("done") {
	case "uris":
		p.Notice = "Redirect URIs saved."
	}
	h.clientPage(w, r, s, http.StatusOK, p, c, strings.Join(c.RedirectURIs, "\n"), secret)
}

// setRedirectURIs replaces the client's redirect URIs (as `roster clients redirect-uris`).
func (h *Handler) setRedirectURIs(w http.ResponseWriter, r *http.Request, s request) {
	c, err := h.cfg.Directory.GetClient(r.Context(), h.cfg.Environment, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	text := r.PostFormValue("redirect_uris")
	if err := h.cfg.Directory.SetRedirectURIs(r.Context(), c.ID, lines(text)); err != nil {
		h.clientPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fieldErrors(err, "redirect_uris")}, c, text, "")
		return
	}
	note(r, "client.redirect_uris", c.ID)
	http.Redirect(w, r, Prefix+"/clients/"+url.PathEscape(c.ID)+"?done=uris", http.StatusSeeOther)
}

func (h *Handler) confirmRevoke(w http.ResponseWriter, r *http.Request, s request) {
	c, err := h.cfg.Directory.GetClient(r.Context(), h.cfg.Environment, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, http.StatusOK, "client-revoke", page{Title: "Revoke " + c.Name, Nav: "clients", Operator: &s.op, CSRF: s.csrf,
		Data: clientData{Client: c}})
}

func (h *Handler) revokeClient(w http.ResponseWriter, r *http.Request, s request) {
	c, err := h.cfg.Directory.GetClient(r.Context(), h.cfg.Environment, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.cfg.Directory.RevokeClient(r.Context(), c.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "client.revoke", c.ID)
	http.Redirect(w, r, Prefix+"/clients?"+url.Values{"done": {"revoked"}, "id": {c.ID}}.Encode(), http.StatusSeeOther)
}

// The one-time secret cookie: AES-256-GCM under a key derived from the CSRF key (so every
// node opens it), bound to the session (its token is the additional data), HttpOnly, for
// five minutes at most, and cleared by the page that shows it.

func (h *Handler) secretCookieName() string {
	if h.cfg.Secure {
		return "__Host-roster_secret"
	}
	return "roster_secret"
}

func (h *Handler) secretAEAD() cipher.AEAD {
	m := hmac.New(sha256.New, h.cfg.CSRFKey)
	m.Write([]byte("roster dashboard one-time secret v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

func (h *Handler) sealSecret(sessionToken, id, secret string) string {
	aead := h.secretAEAD()
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(id+"\n"+secret), []byte(sessionToken)))
}

func (h *Handler) openSecret(sessionToken, v string) (id, secret string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	aead := h.secretAEAD()
	if err != nil || len(b) < aead.NonceSize() {
		return "", "", false
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(sessionToken))
	if err != nil {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(plain), "\n")
	return id, secret, ok
}
