package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// bulkSeedUsers creates users --from..--users-1 through one streaming bulk import (the NDJSON
// lines are generated while they are sent, so memory stays flat), then reads their IDs back
// through the streaming export to write users.tsv. With a budget, the upload stops when the
// budget runs out and what the server applied is kept.
func bulkSeedUsers(ctx context.Context, c config, orgs []orgRow) error {
	base := strings.TrimRight(c.url, "/")
	n := c.to - c.from
	start := time.Now()
	upCtx, cancelUpload := context.WithCancel(ctx)
	defer cancelUpload()
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 256<<10)
		var cutoff time.Time
		if c.budget > 0 {
			cutoff = start.Add(c.budget)
		}
		for k := range n {
			if k%1000 == 0 && !cutoff.IsZero() && time.Now().After(cutoff) {
				fmt.Fprintf(os.Stderr, "seed: budget of %s ran out after sending %d of %d users\n", c.budget, k, n)
				break
			}
			i := c.from + k
			fmt.Fprintf(bw, `{"email":"u%d@bench.example.com","external_id":"bench-user-%d","memberships":[{"organization_id":%q}]}`+"\n",
				i, i, orgFor(i, orgs).id)
		}
		pw.CloseWithError(bw.Flush())
	}()
	req, err := http.NewRequestWithContext(upCtx, http.MethodPost, base+"/api/v1/users:import", pr)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bulk import: %w", err)
	}
	summary, err := readImportReport(resp)
	if err != nil {
		return err
	}
	el := time.Since(start)
	created := summary["created"] + summary["updated"] + summary["unchanged"]
	fmt.Fprintf(os.Stderr, "seed: bulk import: %v\n", summary)
	if summary["failed"] > 0 {
		return fmt.Errorf("bulk import: %d lines failed", summary["failed"])
	}
	fmt.Fprintf(os.Stderr, "seed: %d users in %s (%.0f/s)\n", created, el.Round(time.Millisecond), float64(created)/el.Seconds())
	rows, err := exportedBenchUsers(ctx, base, c.token, c.from, c.to)
	if err != nil {
		return err
	}
	return writeUsers(c, rows)
}

// readImportReport reads the NDJSON report of an import: failed lines (the first few are
// printed) and the final summary.
func readImportReport(resp *http.Response) (map[string]int, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("bulk import: %s: %s", resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	shown := 0
	for sc.Scan() {
		var line struct {
			Summary map[string]int `json:"summary"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("bulk import report: %w: %.200s", err, sc.Bytes())
		}
		if line.Summary != nil {
			return line.Summary, nil
		}
		if shown < 5 {
			fmt.Fprintf(os.Stderr, "seed: import error: %.300s\n", sc.Bytes())
			shown++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bulk import report: %w", err)
	}
	return nil, fmt.Errorf("bulk import report ended without a summary")
}

// exportedBenchUsers streams the export and keeps the seeded users numbered from..to-1.
func exportedBenchUsers(ctx context.Context, base, token string, from, to int) ([]userRow, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/users:export", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("export: %s: %s", resp.Status, b)
	}
	rows := make([]userRow, 0, to-from)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var u struct {
			ID          string `json:"id"`
			Email       string `json:"email"`
			ExternalID  string `json:"external_id"`
			Memberships []struct {
				OrganizationID string `json:"organization_id"`
			} `json:"memberships"`
		}
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			return nil, fmt.Errorf("export line: %w", err)
		}
		num, ok := strings.CutPrefix(u.ExternalID, "bench-user-")
		if !ok || len(u.Memberships) == 0 {
			continue
		}
		if i, err := strconv.Atoi(num); err != nil || i < from || i >= to {
			continue
		}
		rows = append(rows, userRow{u.ID, u.ExternalID, u.Email, u.Memberships[0].OrganizationID})
	}
	return rows, sc.Err()
}
