package api_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/rostertest"
)

// genUsers writes n generated users as NDJSON, numbered from first: each with an external ID,
// a profile with names, a custom attribute ("department", which must be defined), metadata,
// and a membership with a role in one of orgs.
func genUsers(w io.Writer, first, n int, orgs []string) {
	depts := []string{"eng", "sales", "ops", "legal"}
	for i := first; i < first+n; i++ {
		role := "member"
		if i%10 == 0 {
			role = "admin"
		}
		fmt.Fprintf(w, `{"email":"user%[1]d@example.com","external_id":"ext-%[1]d","metadata":{"plan":"p%[2]d","source":"bulk"},`+
			`"user_profile":{"given_name":"Given%[1]d","family_name":"Family%[1]d","locale":"en-US","email_verified":%[3]t,`+
			`"custom_attributes":{"department":%[4]q},"groups":["g%[2]d"]},`+
			`"memberships":[{"organization_id":%[5]q,"roles":[{"name":%[6]q}],"metadata":{"seat":"s%[2]d"}}]}`+"\n",
			i, i%7, i%2 == 0, depts[i%len(depts)], orgs[i%len(orgs)], role)
	}
}

// BenchmarkImportREST measures the REST import through the whole in-process server (HTTP/1.1,
// auth, NDJSON decoding, directory, store), in files of 10,000 new users; users/s is the figure
// to read against the goals (50k/s SQLite, 20k/s PostgreSQL).
func BenchmarkImportREST(b *testing.B) {
	for _, backend := range rostertest.Backends {
		b.Run(backend, func(b *testing.B) {
			r := rostertest.Start(b, backend)
			token := r.Token(b)
			res := r.REST(b, token, "POST", "/api/v1/user-attributes", `{"key": "department", "display_name": "Department"}`)
			if res.Status != 200 {
				b.Fatal(res.Raw)
			}
			var orgs []string
			for i := range 10 {
				res := r.REST(b, token, "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": "Org %d"}`, i))
				orgs = append(orgs, res.Body["organization"].(map[string]any)["id"].(string))
			}
			const perFile = 10_000
			next, users := 0, 0
			var busy time.Duration
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				var file bytes.Buffer
				genUsers(&file, next, perFile, orgs)
				next += perFile
				b.SetBytes(int64(file.Len()))
				b.StartTimer()
				start := time.Now()
				a := importBench(b, r, token, &file)
				busy += time.Since(start)
				if a != perFile {
					b.Fatalf("created %d of %d", a, perFile)
				}
				users += perFile
			}
			b.ReportMetric(float64(users)/busy.Seconds(), "users/s")
		})
	}
}

func importBench(b *testing.B, r *rostertest.Roster, token string, body io.Reader) int {
	b.Helper()
	req := newImportRequest(b, r.URL, token, body)
	resp, err := r.Client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var created int
	if i := bytes.LastIndex(raw, []byte(`{"summary":`)); i >= 0 {
		fmt.Sscanf(string(raw[i:]), `{"summary":{"lines":%d,"created":%d`, new(int), &created)
	}
	if created == 0 {
		b.Fatalf("import: %d %.500s", resp.StatusCode, raw)
	}
	return created
}
