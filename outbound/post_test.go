package outbound

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPostSendsHeadersAsGivenAndFollowsNoRedirect(t *testing.T) {
	var gotID, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/hook", http.StatusFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		gotID, gotBody = r.Header.Get("Webhook-Id"), string(b)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	g := New(Options{AllowPrivateNetworks: true})
	h := http.Header{"webhook-id": {"evt_1"}, "Content-Type": {"application/json"}}
	status, err := g.Post(context.Background(), srv.URL+"/hook", h, []byte(`{"a":1}`))
	if err != nil || status != http.StatusNoContent || gotID != "evt_1" || gotBody != `{"a":1}` {
		t.Fatalf("post = %d, %v; received id %q body %q", status, err, gotID, gotBody)
	}
	status, err = g.Post(context.Background(), srv.URL+"/moved", h, nil)
	if err != nil || status != http.StatusFound {
		t.Fatalf("redirect: %d, %v, want the 302 itself", status, err)
	}
	// The default rule refuses the loopback server at dial time.
	_, err = New(Options{}).Post(context.Background(), srv.URL+"/hook", h, nil)
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("loopback post: %v, want ErrDenied", err)
	}
}

func TestCheckURL(t *testing.T) {
	strict, open := New(Options{}), New(Options{AllowPrivateNetworks: true})
	for _, u := range []string{"http://127.0.0.1/x", "http://[::1]:8080/", "http://localhost:3000/", "https://api.localhost/",
		"http://10.0.0.1/", "http://169.254.169.254/latest", "http://[::ffff:127.0.0.1]/", "ftp://example.com/", "http://u:p@example.com/"} {
		if strict.CheckURL(u) == nil {
			t.Errorf("%s accepted by default", u)
		}
	}
	for _, u := range []string{"https://example.com/hook", "http://93.184.216.34/"} {
		if err := strict.CheckURL(u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	if err := open.CheckURL("http://localhost:3000/"); err != nil {
		t.Errorf("localhost refused with private networks allowed: %v", err)
	}
}
