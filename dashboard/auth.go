package dashboard

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/operators"
)

// setupData is the set-up page's.
type setupData struct {
	Token       string
	First       bool
	Email       string // the operator's, or what the first operator typed
	DisplayName string
}

// setupForm shows the form of a set-up link (operators.SetUpPath): the password, and for the
// first-operator link the email and display name too.
func (h *Handler) setupForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	link, err := h.cfg.Operators.LookUpLink(r.Context(), token)
	if err != nil {
		h.render(w, statusOf(err), "setup", page{Title: "Set up your account", Error: roster.ErrorMessage(err)})
		return
	}
	d := setupData{Token: token, First: link.First}
	if !link.First {
		d.Email, d.DisplayName = link.Operator.Email, link.Operator.DisplayName
	}
	h.render(w, http.StatusOK, "setup", page{Title: "Set up your account", CSRF: h.preCSRF(w, r), Data: d})
}

// setup redeems a set-up link; the operator then signs in.
func (h *Handler) setup(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	in := operators.SetUp{Email: r.PostFormValue("email"), DisplayName: r.PostFormValue("display_name"), Password: r.PostFormValue("password")}
	op, err := h.cfg.Operators.SetUpWithToken(r.Context(), token, in)
	if err != nil {
		d := setupData{Token: token, Email: in.Email, DisplayName: in.DisplayName}
		if link, lerr := h.cfg.Operators.LookUpLink(r.Context(), token); lerr == nil {
			d.First = link.First
			if !link.First {
				d.Email, d.DisplayName = link.Operator.Email, link.Operator.DisplayName
			}
		} else {
			d.Token = "" // the link is spent: no form
		}
		p := page{Title: "Set up your account", CSRF: h.preCSRF(w, r), Data: d,
			Error: roster.ErrorMessage(err), Fields: fieldErrors(err, "email", "display_name", "password")}
		h.render(w, statusOf(err), "setup", p)
		return
	}
	h.record(r, op.ID, op.Email, "setup", "")
	http.Redirect(w, r, Prefix+"/sign-in?"+url.Values{"email": {op.Email}, "done": {"setup"}}.Encode(), http.StatusSeeOther)
}

type signInData struct {
	Email string
	Next  string
}

var notices = map[string]string{
	"setup":      "Your password is set. Sign in with it.",
	"signed-out": "You are signed out.",
	"everywhere": "You are signed out on every device.",
}

func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if c, err := r.Cookie(h.sessionCookieName()); err == nil {
		if _, _, err := h.cfg.Operators.Authenticate(r.Context(), c.Value); err == nil { // signed in already
			http.Redirect(w, r, safeNext(q.Get("next")), http.StatusSeeOther)
			return
		}
	}
	h.render(w, http.StatusOK, "sign-in", page{Title: "Sign in", CSRF: h.preCSRF(w, r), Notice: notices[q.Get("done")],
		Data: signInData{Email: q.Get("email"), Next: safeNext(q.Get("next"))}})
}

// signIn checks the password through operators.SignIn (with its throttling and lockout);
// a refusal shows the service's message.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	email, next := r.PostFormValue("email"), safeNext(r.PostFormValue("next"))
	ses, err := h.cfg.Operators.SignIn(r.Context(), email, r.PostFormValue("password"), r.RemoteAddr)
	if err != nil {
		if roster.ErrorCode(err) == roster.EInternal {
			h.cfg.Log.ErrorContext(r.Context(), "dashboard: sign-in", "err", err)
		}
		if errors.Is(err, operators.ErrBadCredentials) || errors.Is(err, operators.ErrLocked) { // not the throttled: they would flood the log
			typed := email // what was typed, unless it is no email address (a password typed in the wrong box)
			if (roster.NewOperator{Email: email}).Check() != nil {
				typed = "(not an email address)"
			}
			h.record(r, "", typed, "sign-in.failure", roster.ErrorMessage(err))
		}
		h.render(w, statusOf(err), "sign-in", page{Title: "Sign in", CSRF: h.preCSRF(w, r), Error: roster.ErrorMessage(err),
			Data: signInData{Email: email, Next: next}})
		return
	}
	h.record(r, ses.Operator.ID, ses.Operator.Email, "sign-in", "")
	http.SetCookie(w, h.cookie(h.sessionCookieName(), ses.Token, ses.Session.ExpireTime))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, s request) {
	if err := h.cfg.Operators.SignOut(r.Context(), s.token); err != nil {
		h.fail(w, r, err)
		return
	}
	h.clearCookie(w, h.sessionCookieName())
	http.Redirect(w, r, Prefix+"/sign-in?done=signed-out", http.StatusSeeOther)
}

func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request, s request) {
	if _, err := h.cfg.Operators.SignOutEverywhere(r.Context(), s.op.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.clearCookie(w, h.sessionCookieName())
	http.Redirect(w, r, Prefix+"/sign-in?done=everywhere", http.StatusSeeOther)
}
