package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// watch samples, until SIGTERM or SIGINT, the resident memory of process --pid (VmRSS in
// /proc/PID/status) and the size of the file --wal (SQLite's write-ahead log; absent counts as
// 0), and then writes to --out one line: "<max VmRSS kB> <max WAL bytes> <samples>". run.sh
// runs it beside each measurement; it sleeps between samples, so it costs next to no CPU.
func watch(args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "process to sample")
	wal := fs.String("wal", "", "file whose size to sample (empty: none)")
	out := fs.String("out", "", "result file")
	every := fs.Duration("interval", 100*time.Millisecond, "sampling interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pid <= 0 || *out == "" {
		return errors.New("usage: benchkit watch --pid PID --out FILE [--wal PATH] [--interval D]")
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	var maxRSS, maxWAL int64 = -1, -1
	n := 0
	sample := func() {
		if kb, ok := procStatusKB(*pid, "VmRSS"); ok && kb > maxRSS {
			maxRSS = kb
		}
		if *wal != "" {
			var size int64
			if st, err := os.Stat(*wal); err == nil {
				size = st.Size()
			}
			maxWAL = max(maxWAL, size)
		}
		n++
	}
	t := time.NewTicker(*every)
	defer t.Stop()
	sample()
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-t.C:
			sample()
		}
	}
	sample()
	return os.WriteFile(*out, fmt.Appendf(nil, "%d %d %d\n", maxRSS, maxWAL, n), 0o644)
}

// procStatusKB reads one "Name:   123 kB" line of /proc/PID/status.
func procStatusKB(pid int, name string) (int64, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
