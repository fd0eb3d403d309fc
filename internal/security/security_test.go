package security

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/devstack"
)

// partitions keeps the stacks light.
const partitions = "4"

// podiumBinary builds cmd/podium once per test run and returns its path.
func podiumBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level security test: skipped with -short")
	}
	bin, err := devstack.BuildPodium()
	if err != nil {
		t.Fatalf("building podium: %v", err)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	devstack.RemoveBuilt()
	os.Exit(code)
}

// secret returns a random string that cannot appear in any output by chance.
func secret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// cluster is a secured `podium broker` process and the environment its clients need.
type cluster struct {
	t      *testing.T
	sup    *devstack.Supervisor
	out    *devstack.Output
	addr   string   // what clients bootstrap from
	client []string // the clients' environment: PODIUM_KAFKA_* settings
}

// startBroker runs `podium broker` on a free port with extra flags and environment; it
// advertises advertise when set (a proxy in front of it).
func startBroker(t *testing.T, env []string, advertise string, flags ...string) *cluster {
	t.Helper()
	bin := podiumBinary(t)
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	c := &cluster{t: t, out: &devstack.Output{}, addr: listen}
	if advertise != "" {
		c.addr = advertise
	}
	c.sup = &devstack.Supervisor{Binary: bin, Output: c.out, Env: env}
	t.Cleanup(func() {
		c.sup.StopAll(10 * time.Second)
		if t.Failed() {
			t.Logf("warnings and errors (last 80):\n%s\nprocess output (tail):\n%s", devstack.Trouble(c.out.String(), 80), devstack.Tail(c.out.String(), 60))
		}
	})
	args := append([]string{"broker", "--addr", listen, "--advertise", c.addr, "--partitions", partitions,
		"--min-session-timeout", "1s"}, flags...)
	if _, err := c.sup.Start("broker", args...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := devstack.WaitTCP(ctx, listen); err != nil {
		t.Fatalf("broker: %v\n%s", err, c.out.String())
	}
	return c
}

// podium runs `podium args...` with env to completion, within timeout.
func (c *cluster) podium(timeout time.Duration, env []string, args ...string) (out string, took time.Duration, err error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, podiumBinary(c.t), args...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	b, err := cmd.CombinedOutput()
	return string(b), time.Since(start), err
}

func kafkaEnv(brokers string, kv ...string) []string {
	return append([]string{"PODIUM_KAFKA_BROKERS=" + brokers}, kv...)
}

// TestRightCredentialsRunSagas runs the whole stack — orchestrator, five workers, API, CLI —
// against a broker requiring SASL and/or TLS, configured the way a deployment is (secrets
// in the environment), at debug level. Every order ends as it must, the API serves, and no
// password or token appears anywhere in the output.
func TestRightCredentialsRunSagas(t *testing.T) {
	certs := newPKI(t)
	tests := []struct {
		name      string
		mechanism string   // "" = no SASL
		broker    []string // broker flags (TLS)
		client    []string // client environment (TLS)
	}{
		{name: "sasl plain", mechanism: "PLAIN"},
		{name: "sasl scram-sha-256", mechanism: "SCRAM-SHA-256"},
		{name: "sasl scram-sha-512 over tls", mechanism: "SCRAM-SHA-512",
			broker: []string{"--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey},
			client: []string{"PODIUM_KAFKA_TLS_CA=" + certs.CA}},
		{name: "mutual tls", broker: []string{"--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-client-ca", certs.CA},
			client: []string{"PODIUM_KAFKA_TLS_CA=" + certs.CA, "PODIUM_KAFKA_TLS_CERT=" + certs.ClientCert, "PODIUM_KAFKA_TLS_KEY=" + certs.ClientKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			password, token := secret(t, "pw"), secret(t, "token")
			env := []string{"PODIUM_LOG_LEVEL=debug", "PODIUM_TOKEN=" + token}
			if tt.mechanism != "" {
				env = append(env, "PODIUM_SASL_USERS="+tt.mechanism+":podium:"+password,
					"PODIUM_KAFKA_SASL_MECHANISM="+tt.mechanism, "PODIUM_KAFKA_SASL_USERNAME=podium",
					"PODIUM_KAFKA_SASL_PASSWORD="+password)
			}
			env = append(env, tt.client...)
			c := startBroker(t, env, "", tt.broker...)
			env = append(env, "PODIUM_KAFKA_BROKERS="+c.addr)
			c.sup.Env = env

			start := func(name string, args ...string) {
				t.Helper()
				if _, err := c.sup.Start(name, args...); err != nil {
					t.Fatal(err)
				}
			}
			start("orchestrator", "orchestrator", "--partitions", partitions, "--session-timeout", "3s")
			for _, w := range events.Workers {
				start(w, "worker", w, "--partitions", partitions)
			}
			apiPort, err := devstack.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			apiAddr := "127.0.0.1:" + strconv.Itoa(apiPort)
			start("api", "api", "--addr", apiAddr, "--partitions", partitions)

			out, took, err := c.podium(3*time.Minute, env, "order", "place", "--count", "24", "--mix", "--wait",
				"--timeout", "2m", "--prefix", "sec")
			if err != nil {
				t.Fatalf("podium order place --wait: %v (after %s)\n%s", err, took.Round(time.Millisecond), out)
			}
			if !strings.Contains(out, "orders placed: 24, terminal: 24, pending: 0") || strings.Contains(out, "MISMATCHED") {
				t.Errorf("podium order place --wait: unexpected summary:\n%s", out)
			}
			waitHTTP(t, "http://"+apiAddr+"/readyz", 30*time.Second)

			c.sup.StopAll(10 * time.Second)
			all := c.out.String() + out
			for _, s := range []string{password, token} {
				if i := strings.Index(all, s); i >= 0 {
					t.Errorf("a secret appears in the output: %q", lineAt(all, i))
				}
			}
			// Every process printed its configuration, with the secrets masked.
			configs := strings.Count(c.out.String(), `"message":"configuration"`)
			if want := 2 + len(events.Workers) + 1; configs < want { // broker, orchestrator, workers, api
				t.Errorf("configuration lines: got %d, want %d", configs, want)
			}
			if tt.mechanism != "" {
				if got, want := strings.Count(c.out.String(), `"kafka_sasl_password":"********"`), 1+len(events.Workers)+1; got != want {
					t.Errorf("masked kafka_sasl_password in configurations: got %d, want %d", got, want)
				}
				if !strings.Contains(c.out.String(), `"sasl_users":"`+tt.mechanism+`:podium:********"`) {
					t.Errorf("the broker's configuration does not show its users masked")
				}
			}
			if !strings.Contains(c.out.String(), `"token":"********"`) {
				t.Errorf("the API's configuration does not show its token masked")
			}
		})
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for ; time.Now().Before(deadline); <-tick.C {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s %s", resp.Status, body)
		} else {
			last = err.Error()
		}
	}
	t.Fatalf("GET %s: no 200 within %s; last: %s", url, timeout, last)
}

// lineAt returns the line of s around index i.
func lineAt(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}

// countingProxy forwards TCP connections to a target and counts them.
type countingProxy struct {
	ln     net.Listener
	target string
	conns  atomic.Int64
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// serve accepts until the listener closes; each connection is piped in its own goroutines,
// which end when either side closes.
func (p *countingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}

// TestWrongCredentialsAreRefused runs every kind of process with wrong SASL settings: each
// exits non-zero at once with an error naming what failed, opens only a handful of
// connections (no retry storm), and prints no password.
func TestWrongCredentialsAreRefused(t *testing.T) {
	right := secret(t, "pw")
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, "127.0.0.1:"+strconv.Itoa(port))
	brokerAddr := proxy.ln.Addr().String()
	c := startBrokerAt(t, port, brokerAddr, "SCRAM-SHA-256:podium:"+right+",PLAIN:plain:"+right)

	wrong := secret(t, "wrong")
	credentials := []struct {
		name string
		env  []string
	}{
		{"wrong password", []string{"PODIUM_KAFKA_SASL_MECHANISM=SCRAM-SHA-256", "PODIUM_KAFKA_SASL_USERNAME=podium", "PODIUM_KAFKA_SASL_PASSWORD=" + wrong}},
		{"unknown user", []string{"PODIUM_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "PODIUM_KAFKA_SASL_USERNAME=nobody", "PODIUM_KAFKA_SASL_PASSWORD=" + wrong}},
		{"mechanism the user lacks", []string{"PODIUM_KAFKA_SASL_MECHANISM=PLAIN", "PODIUM_KAFKA_SASL_USERNAME=podium", "PODIUM_KAFKA_SASL_PASSWORD=" + right}},
		{"no credentials", nil},
	}
	commands := [][]string{
		{"topics", "create", "--partitions", partitions},
		{"orchestrator", "--partitions", partitions},
		{"worker", "payment", "--partitions", partitions},
		{"order", "place", "--count", "1"},
		{"order", "watch"},
		{"healthcheck", "--kafka"},
	}
	for _, cred := range credentials {
		for _, args := range commands {
			t.Run(cred.name+"/"+strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) {
				before := proxy.conns.Load()
				out, took, err := c.podium(30*time.Second, kafkaEnv(brokerAddr, cred.env...), args...)
				conns := proxy.conns.Load() - before
				if err == nil {
					t.Fatalf("exit status 0 with wrong credentials, want non-zero\n%s", out)
				}
				if took > 15*time.Second {
					t.Errorf("took %s to give up, want well under 15s", took.Round(time.Millisecond))
				}
				if conns > 5 {
					t.Errorf("opened %d connections, want at most 5 (no retry storm)", conns)
				}
				last := devstack.Tail(out, 1)
				if !strings.HasPrefix(last, "podium: ") {
					t.Errorf("last line: got %q, want the error, prefixed with \"podium: \"", last)
				}
				if !strings.Contains(last, "broker closed the connection") {
					t.Errorf("last line: got %q, want it to say that the broker closed the connection (kafka-go's bare EOF, explained)", last)
				}
				if strings.Contains(out, right) || strings.Contains(out, wrong) {
					t.Errorf("a password appears in the output:\n%s", out)
				}
				t.Logf("refused in %s with %d connection(s): %s", took.Round(time.Millisecond), conns, last)
			})
		}
	}

	// The API is a server: it keeps retrying, slowly, and stays up for its health checks.
	t.Run("wrong password/api", func(t *testing.T) {
		env := kafkaEnv(brokerAddr, credentials[0].env...)
		c.sup.Env = env
		apiPort, err := devstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		before := proxy.conns.Load()
		p, err := c.sup.Start("api", "api", "--addr", "127.0.0.1:"+strconv.Itoa(apiPort))
		if err != nil {
			t.Fatal(err)
		}
		window := time.NewTimer(5 * time.Second)
		defer window.Stop()
		select {
		case <-p.Done():
			t.Logf("the api exited: %v", p.Err())
		case <-window.C:
		}
		// A storm is a connection every few milliseconds. The API's backoff (250 ms,
		// doubling) makes at most 5 attempts in 5 s, and a refused attempt may take a
		// second connection (6 seen once in a loaded make test): at most 10.
		if conns := proxy.conns.Load() - before; conns > 10 {
			t.Errorf("api: %d connections in 5s, want at most 10 (no retry storm)", conns)
		}
		if err := c.sup.Stop("api", 10*time.Second); err != nil {
			t.Logf("stopping the api: %v", err)
		}
		if strings.Contains(c.out.String(), wrong) || strings.Contains(c.out.String(), right) {
			t.Errorf("a password appears in the output:\n%s", c.out.String())
		}
	})
}

// startBrokerAt runs a SASL broker listening on port and advertising advertise.
func startBrokerAt(t *testing.T, port int, advertise, users string) *cluster {
	t.Helper()
	bin := podiumBinary(t)
	listen := "127.0.0.1:" + strconv.Itoa(port)
	c := &cluster{t: t, out: &devstack.Output{}, addr: advertise}
	c.sup = &devstack.Supervisor{Binary: bin, Output: c.out, Env: []string{"PODIUM_SASL_USERS=" + users}}
	t.Cleanup(func() {
		c.sup.StopAll(10 * time.Second)
		if t.Failed() {
			t.Logf("warnings and errors (last 80):\n%s\nprocess output (tail):\n%s", devstack.Trouble(c.out.String(), 80), devstack.Tail(c.out.String(), 60))
		}
	})
	if _, err := c.sup.Start("broker", "broker", "--addr", listen, "--advertise", advertise, "--partitions", partitions); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := devstack.WaitTCP(ctx, listen); err != nil {
		t.Fatalf("broker: %v\n%s", err, c.out.String())
	}
	return c
}

// TestTLSRefusals runs a client against a broker requiring TLS with client certificates:
// a client that does not trust the broker's CA, one without a client certificate, and one
// without TLS are all refused at once; the client with the right CA and certificate works.
func TestTLSRefusals(t *testing.T) {
	certs := newPKI(t)
	c := startBroker(t, nil, "", "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-client-ca", certs.CA)
	clientCert := []string{"PODIUM_KAFKA_TLS_CERT=" + certs.ClientCert, "PODIUM_KAFKA_TLS_KEY=" + certs.ClientKey}
	tests := []struct {
		name string
		env  []string
		want string // in the error; "" = any error
	}{
		{"untrusted broker certificate", append([]string{"PODIUM_KAFKA_TLS_CA=" + certs.OtherCA}, clientCert...), "certificate signed by unknown authority"},
		{"system roots only", append([]string{"PODIUM_KAFKA_TLS=true"}, clientCert...), "certificate signed by unknown authority"},
		{"no client certificate", []string{"PODIUM_KAFKA_TLS_CA=" + certs.CA}, "certificate required"},
		{"plaintext client", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, took, err := c.podium(30*time.Second, kafkaEnv(c.addr, tt.env...), "topics", "create", "--partitions", partitions)
			if err == nil {
				t.Fatalf("exit status 0, want a refusal\n%s", out)
			}
			if took > 15*time.Second {
				t.Errorf("took %s to give up, want well under 15s", took.Round(time.Millisecond))
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			t.Logf("refused in %s: %s", took.Round(time.Millisecond), devstack.Tail(out, 1))
		})
	}
	t.Run("right CA and client certificate", func(t *testing.T) {
		env := kafkaEnv(c.addr, append([]string{"PODIUM_KAFKA_TLS_CA=" + certs.CA}, clientCert...)...)
		out, _, err := c.podium(30*time.Second, env, "topics", "create", "--partitions", partitions)
		if err != nil {
			t.Fatalf("topics create: %v\n%s", err, out)
		}
		if !strings.Contains(out, "topics ready") {
			t.Errorf("unexpected output:\n%s", out)
		}
	})
}
