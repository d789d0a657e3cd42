package sso_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/rosterhq/roster/internal/samltest"
)

// callback is a provider's answer not yet delivered, and the browser (cookie jar) to deliver
// it from: the one that started the sign-in.
type callback struct {
	url string
	jar http.CookieJar
}

// callbackURLs runs n sign-ins up to the provider's answer and returns the callback URLs the
// provider sent the browser to (not yet followed).
func callbackURLs(b *testing.B, f *fixture, n int) []callback {
	b.Helper()
	out := make([]callback, 0, n)
	for range n {
		jar, _ := cookiejar.New(nil)
		out = append(out, callback{startOIDC(b, f, jar), jar})
	}
	return out
}

// BenchmarkCallbackToCode measures Roster's whole callback step against a local provider:
// taking the sign-in state, the code exchange at the provider, ID token verification,
// userinfo, mapping, the user/membership/identity/code transaction and the redirect.
func BenchmarkCallbackToCode(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			f := setup(b, backend)
			f.idp.SetUser("00u-bench", map[string]any{"email": "bench@acme.test", "given_name": "Ben", "employee_no": "7"})
			urls := callbackURLs(b, f, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				client := &http.Client{Jar: urls[i].jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				res, err := client.Get(urls[i].url)
				if err != nil {
					b.Fatal(err)
				}
				res.Body.Close()
				loc, _ := url.Parse(res.Header.Get("Location"))
				if res.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
					b.Fatalf("callback: %d %v", res.StatusCode, loc)
				}
			}
		})
	}
}

// BenchmarkTokenAuthorizationCode measures POST /oauth/token with grant_type=authorization_code:
// client authentication (argon2id once, then the remembered secret), the one-time code, the
// user read, a refresh token and two RS256 signatures.
func BenchmarkTokenAuthorizationCode(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			f := setup(b, backend)
			f.idp.SetUser("00u-bench", map[string]any{"email": "bench@acme.test", "given_name": "Ben"})
			urls := callbackURLs(b, f, b.N)
			codes := make([]string, b.N)
			for i, u := range urls {
				client := &http.Client{Jar: u.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				res, err := client.Get(u.url)
				if err != nil {
					b.Fatal(err)
				}
				res.Body.Close()
				loc, _ := url.Parse(res.Header.Get("Location"))
				codes[i] = loc.Query().Get("code")
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if status, body := f.exchange(b, codes[i], verifier); status != 200 {
					b.Fatalf("exchange: %d %v", status, body)
				}
			}
		})
	}
}

// BenchmarkSAMLACS measures Roster's ACS: taking the sign-in, verifying the response and
// assertion signatures and conditions (crewjam/saml), the replay record, attribute mapping,
// the user/membership/identity/code transaction and the redirect.
func BenchmarkSAMLACS(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			sf := setupSAML(b, backend)
			sf.idp.SetUser(ada)
			answers := make([]samltest.Answer, b.N)
			for i := range answers {
				answers[i] = sf.answer(b, sf.params())
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if loc, status, page := sf.post(b, answers[i].ACS, answers[i]); loc == nil || loc.Query().Get("code") == "" {
					b.Fatalf("ACS: %d %v %s", status, loc, page)
				}
			}
		})
	}
}
