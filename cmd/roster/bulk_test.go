package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster/store/sqlite"
)

// roster import and export in-process on SQLite: the counts, the report, the exit error when a
// line fails, the export's file made whole; and the refusal while a server holds the data
// directory without its URL.
func TestImportExportCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // made 0700
	if err := run([]string{"migrate", "--data-dir", dir}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "users.ndjson")
	body := `{"email": "a@example.com", "external_id": "a"}` + "\n\n" + `{"email": "nope"}` + "\n" + `{"email": "b@example.com"}` + "\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.ndjson")
	var out, errOut bytes.Buffer
	err := run([]string{"import", "--data-dir", dir, "--quiet", "--report", report, file}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 lines failed") {
		t.Fatalf("import: %v, want 1 of 3 lines failed", err)
	}
	if !strings.HasPrefix(out.String(), "3 lines: 2 created, 0 updated, 0 unchanged, 1 failed") {
		t.Errorf("summary %q", out.String())
	}
	if !strings.Contains(errOut.String(), "line 3 (nope): ") {
		t.Errorf("failed line not printed: %q", errOut.String())
	}
	rep, _ := os.ReadFile(report)
	lines := strings.Split(strings.TrimSpace(string(rep)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"line":3,"email":"nope","error":{"code":3,`) ||
		lines[1] != `{"summary":{"lines":3,"created":2,"updated":0,"unchanged":0,"failed":1}}` {
		t.Errorf("report:\n%s", rep)
	}

	exported := filepath.Join(t.TempDir(), "export.ndjson")
	if err := run([]string{"export", "--data-dir", dir, "--quiet", "-o", exported}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(exported)
	if n := strings.Count(string(data), "\n"); n != 2 || !strings.Contains(string(data), `"email":"a@example.com"`) {
		t.Errorf("export:\n%s", data)
	}
	out.Reset()
	if err := run([]string{"import", "--data-dir", dir, "--quiet", exported}, &out, io.Discard); err != nil ||
		!strings.HasPrefix(out.String(), "2 lines: 0 created, 0 updated, 2 unchanged, 0 failed") {
		t.Errorf("re-import of the export: %v %q", err, out.String())
	}

	// A server holds the data directory: without its URL, the import refuses and says why.
	unlock, err := sqlite.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	t.Setenv("SCALEKIT_ENVIRONMENT_URL", "")
	err = run([]string{"import", "--data-dir", dir, "--quiet", file}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SCALEKIT_ENVIRONMENT_URL") || !strings.Contains(err.Error(), "roster serve is running") {
		t.Errorf("import while serving, without a URL: %v", err)
	}
	// The export reads the database meanwhile.
	if err := run([]string{"export", "--data-dir", dir, "--quiet", "-o", exported}, io.Discard, io.Discard); err != nil {
		t.Errorf("export while serving: %v", err)
	}
	if err := run([]string{"import", "--data-dir", dir}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("import without a file: %v", err)
	}
}
