// Command grpcload is the load benchmark's gRPC load generator: a closed loop of N clients
// sending one unary method's requests over one HTTP/2 connection, like ghz -c N
// --connections 1, and a JSON report of what came back.
//
//	grpcload --call scalekit.v1.users.UserService/GetUser --data-file F [--metadata JSON]
//	         [-c 16] [-z 3s] [--timeout 10s] -o OUT ADDR
//
// Why not ghz: ghz builds and reads every message through dynamic (descriptor-driven)
// messages, and on the benchmark's one core it took in at most 680–900 fixed pages of 100
// users a second, below the 1,000-page target whatever the server does. grpcload
// sends and reads the generated Go types with connect-go's gRPC protocol, the way an
// application's client does, so the server, not the tool, is what a row measures. The
// ceiling server is measured with the same tool, so ratios stay like for like.
//
// The data file is ghz's: a JSON array of request messages (protojson), sent in order and
// round-robin over the clients; "{{.RequestNumber}}" in a message is replaced by the request's
// number (0, 1, ...), as ghz does. When the duration is up no new call starts and the calls in
// flight finish, so none is cut off.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The services grpcload can call: their generated types register themselves.
	_ "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	_ "github.com/rosterhq/roster/gen/scalekit/v1/users"
)

const requestNumber = "{{.RequestNumber}}"

// report is what grpcload writes: the fields of ghz's JSON report that bench/cmd/benchkit
// reads, with the same names and meanings.
type report struct {
	Tool      string         `json:"tool"`
	Count     int            `json:"count"`
	Total     time.Duration  `json:"total"`
	Rps       float64        `json:"rps"`
	Status    map[string]int `json:"statusCodeDistribution"`
	ErrorDist map[string]int `json:"errorDistribution"`
	Latency   []percentile   `json:"latencyDistribution"`
}

type percentile struct {
	Percentage int           `json:"percentage"`
	Latency    time.Duration `json:"latency"`
}

// message is the request or the response of a call: connect-go's generic client takes one Go
// type for each, and the codec below fills it with the method's generated message.
type message struct{ m proto.Message }

// codec is connect-go's "proto" codec for message: the request's bytes as given, the response
// into a new message of the method's output type. connect-go also decodes an error's status
// details with it, as their own proto messages.
type codec struct{ out protoreflect.MessageType }

func (codec) Name() string { return "proto" }

func (c codec) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case *message:
		return proto.Marshal(v.m)
	case proto.Message:
		return proto.Marshal(v)
	}
	return nil, fmt.Errorf("grpcload: cannot marshal %T", v)
}

func (c codec) Unmarshal(b []byte, v any) error {
	switch v := v.(type) {
	case *message:
		v.m = c.out.New().Interface()
		return proto.Unmarshal(b, v.m)
	case proto.Message:
		return proto.Unmarshal(b, v)
	}
	return fmt.Errorf("grpcload: cannot unmarshal into %T", v)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "grpcload:", err)
		os.Exit(1)
	}
}

// config is one load: what to call, with what, how hard and for how long.
type config struct {
	call, dataFile, addr string
	headers              map[string]string
	clients              int
	duration, timeout    time.Duration
}

func run() error {
	var cfg config
	flag.StringVar(&cfg.call, "call", "", "package.Service/Method")
	flag.StringVar(&cfg.dataFile, "data-file", "", "JSON array of request messages")
	metadata := flag.String("metadata", "", `request headers as a JSON object, e.g. {"authorization":"Bearer X"}`)
	flag.IntVar(&cfg.clients, "c", 16, "concurrent clients (calls in flight)")
	flag.DurationVar(&cfg.duration, "z", 3*time.Second, "how long to start new calls")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "deadline of each call")
	out := flag.String("o", "", "report file (JSON)")
	flag.Parse()
	if cfg.call == "" || cfg.dataFile == "" || *out == "" || flag.NArg() != 1 || cfg.clients < 1 {
		return errors.New("usage: grpcload --call pkg.Service/Method --data-file F [--metadata JSON] [-c N] [-z D] [--timeout D] -o OUT ADDR")
	}
	cfg.addr = flag.Arg(0)
	if *metadata != "" {
		if err := json.Unmarshal([]byte(*metadata), &cfg.headers); err != nil {
			return fmt.Errorf("--metadata: %w", err)
		}
	}
	rep, err := load(cfg)
	if err != nil {
		return err
	}
	b, err := json.Marshal(rep) // one line, like ghz's: run.sh's progress line reads "rps" from it
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}

// maxErrorKinds bounds the report's error texts: a run that fails every call with a
// different message still writes a small report.
const maxErrorKinds = 20

// load runs cfg.clients closed loops until cfg.duration is up, then waits for the calls in
// flight, and reports every call.
func load(cfg config) (*report, error) {
	method, err := findMethod(cfg.call)
	if err != nil {
		return nil, err
	}
	reqs, err := loadRequests(cfg.dataFile, method.Input())
	if err != nil {
		return nil, err
	}
	outType, err := protoregistry.GlobalTypes.FindMessageByName(method.Output().FullName())
	if err != nil {
		return nil, err
	}

	// One HTTP/2 connection without TLS (h2c), as ghz --insecure --connections 1.
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	transport := &http.Transport{
		Protocols:       &protocols,
		MaxConnsPerHost: 1,
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer transport.CloseIdleConnections()
	procedure := "/" + strings.TrimPrefix(cfg.call, "/")
	client := connect.NewClient[message, message](&http.Client{Transport: transport}, "http://"+cfg.addr+procedure,
		connect.WithGRPC(), connect.WithCodec(codec{out: outType}))

	var (
		next     atomic.Int64
		mu       sync.Mutex
		status   = map[string]int{}
		errDist  = map[string]int{}
		lat      []time.Duration
		wg       sync.WaitGroup
		start    = time.Now()
		deadline = start.Add(cfg.duration)
	)
	for range cfg.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 1<<14)
			ownStatus := map[string]int{}
			ownErr := map[string]int{}
			for time.Now().Before(deadline) {
				n := next.Add(1) - 1
				req, err := reqs.get(n)
				if err != nil { // loadRequests parsed every template once: not expected, but never hidden
					ownStatus["grpcload: bad message"]++
					if len(ownErr) < maxErrorKinds {
						ownErr[err.Error()]++
					}
					continue
				}
				r := connect.NewRequest(&message{m: req})
				for k, v := range cfg.headers {
					r.Header().Set(k, v)
				}
				ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
				t0 := time.Now()
				_, err = client.CallUnary(ctx, r)
				own = append(own, time.Since(t0))
				cancel()
				if err != nil {
					code := statusName(connect.CodeOf(err))
					ownStatus[code]++
					if len(ownErr) < maxErrorKinds {
						ownErr[code+": "+err.Error()]++
					}
					continue
				}
				ownStatus["OK"]++
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, own...)
			for k, v := range ownStatus {
				status[k] += v
			}
			for k, v := range ownErr {
				if _, ok := errDist[k]; ok || len(errDist) < maxErrorKinds {
					errDist[k] += v
				}
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rep := &report{Tool: "grpcload", Count: len(lat), Total: total, Status: status, ErrorDist: errDist}
	if total > 0 {
		rep.Rps = float64(len(lat)) / total.Seconds()
	}
	for _, p := range []int{10, 25, 50, 75, 90, 95, 99} {
		if len(lat) > 0 {
			rep.Latency = append(rep.Latency, percentile{p, lat[min(len(lat)-1, len(lat)*p/100)]})
		}
	}
	return rep, nil
}

func findMethod(call string) (protoreflect.MethodDescriptor, error) {
	svc, name, ok := strings.Cut(strings.TrimPrefix(call, "/"), "/")
	if !ok {
		return nil, fmt.Errorf("--call %q: want package.Service/Method", call)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, fmt.Errorf("--call %q: %w", call, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("--call %q: %s is not a service", call, svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, fmt.Errorf("--call %q: no method %s", call, name)
	}
	if md.IsStreamingClient() || md.IsStreamingServer() {
		return nil, fmt.Errorf("--call %q: only unary methods", call)
	}
	return md, nil
}

// requests are the data file's messages: parsed once, or, for those holding
// "{{.RequestNumber}}", kept as text and parsed per request with the number filled in.
type requests struct {
	in    protoreflect.MessageType
	fixed []proto.Message // nil where the message is a template
	tmpl  [][]byte
}

func loadRequests(path string, in protoreflect.MessageDescriptor) (*requests, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: want a JSON array of messages: %w", path, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: no messages", path)
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(in.FullName())
	if err != nil {
		return nil, err
	}
	r := &requests{in: mt, fixed: make([]proto.Message, len(raw)), tmpl: make([][]byte, len(raw))}
	for i, m := range raw {
		if bytes.Contains(m, []byte(requestNumber)) {
			r.tmpl[i] = m
			if _, err := r.get(int64(i)); err != nil {
				return nil, fmt.Errorf("%s: message %d with request number %d: %w", path, i, i, err)
			}
			continue
		}
		msg := mt.New().Interface()
		if err := protojson.Unmarshal(m, msg); err != nil {
			return nil, fmt.Errorf("%s: message %d: %w", path, i, err)
		}
		r.fixed[i] = msg
	}
	return r, nil
}

func (r *requests) get(n int64) (proto.Message, error) {
	i := int(n % int64(len(r.fixed)))
	if m := r.fixed[i]; m != nil {
		return m, nil
	}
	msg := r.in.New().Interface()
	text := bytes.ReplaceAll(r.tmpl[i], []byte(requestNumber), []byte(strconv.FormatInt(n, 10)))
	return msg, protojson.Unmarshal(text, msg)
}

// statusNames are connect's codes as gRPC (and ghz's report) spell them.
var statusNames = map[connect.Code]string{
	connect.CodeCanceled: "Canceled", connect.CodeUnknown: "Unknown", connect.CodeInvalidArgument: "InvalidArgument",
	connect.CodeDeadlineExceeded: "DeadlineExceeded", connect.CodeNotFound: "NotFound", connect.CodeAlreadyExists: "AlreadyExists",
	connect.CodePermissionDenied: "PermissionDenied", connect.CodeResourceExhausted: "ResourceExhausted",
	connect.CodeFailedPrecondition: "FailedPrecondition", connect.CodeAborted: "Aborted", connect.CodeOutOfRange: "OutOfRange",
	connect.CodeUnimplemented: "Unimplemented", connect.CodeInternal: "Internal", connect.CodeUnavailable: "Unavailable",
	connect.CodeDataLoss: "DataLoss", connect.CodeUnauthenticated: "Unauthenticated",
}

// statusName is a connect code as gRPC (and ghz's report) spells it.
func statusName(c connect.Code) string {
	if s, ok := statusNames[c]; ok {
		return s
	}
	return "Code" + strconv.Itoa(int(c))
}
