package devservers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrNotReady is returned when a server does not become ready in time.
var ErrNotReady = errors.New("devservers: server not ready")

// NATSOptions configures an embedded NATS server.
type NATSOptions struct {
	// Host to bind. Default "127.0.0.1".
	Host string
	// Port to listen on; -1 (or 0) picks a random free port. The local stack uses 4222.
	Port int
	// HTTPPort is the monitoring port (/varz, /jsz); 0 disables it. The local stack uses 8222.
	HTTPPort int
	// StoreDir is the JetStream file-store directory. Required.
	StoreDir string
	// ReadyTimeout bounds the wait for the server to accept connections. Default 10s.
	ReadyTimeout time.Duration
	// ServerName names the server (required, and unique, in a cluster).
	ServerName string
	// ClusterName, ClusterPort and Routes make the server a member of a
	// JetStream cluster: it listens for routes on ClusterPort and connects
	// to Routes (nats-route://host:port of the others). Empty: standalone.
	ClusterName string
	ClusterPort int
	Routes      []string
	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (nats-server `jetstream { sync_interval: always }`, what
	// docs/DEPLOY.md recommends after Jepsen's NATS 2.12.1 analysis). The
	// default, like nats-server's, syncs every 2 minutes.
	SyncAlways bool
}

// NATSServer is a running embedded NATS server with JetStream enabled.
type NATSServer struct {
	// URL is the client URL, e.g. nats://127.0.0.1:4222.
	URL string
	srv *server.Server
}

// StartNATS starts an embedded NATS server with JetStream and a file store in
// opts.StoreDir, and waits until it accepts connections.
func StartNATS(opts NATSOptions) (*NATSServer, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("devservers: NATSOptions.StoreDir is required")
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = -1
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 10 * time.Second
	}
	sopts := &server.Options{
		Host:      opts.Host,
		Port:      opts.Port,
		HTTPHost:  opts.Host,
		HTTPPort:  opts.HTTPPort,
		JetStream: true,
		StoreDir:  opts.StoreDir,
		NoSigs:    true,
		NoLog:     true,
	}
	if opts.SyncAlways {
		sopts.SyncAlways = true
	}
	if opts.ServerName != "" {
		sopts.ServerName = opts.ServerName
	}
	if opts.ClusterName != "" {
		sopts.Cluster = server.ClusterOpts{Name: opts.ClusterName, Host: opts.Host, Port: opts.ClusterPort}
		sopts.Routes = server.RoutesFromStr(strings.Join(opts.Routes, ","))
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("devservers: new nats server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(opts.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w: nats after %s", ErrNotReady, opts.ReadyTimeout)
	}
	return &NATSServer{URL: srv.ClientURL(), srv: srv}, nil
}

// Server exposes the underlying nats-server (for fault tests, e.g. restarts).
func (s *NATSServer) Server() *server.Server { return s.srv }

// Shutdown stops the server and waits until it has stopped. Safe to call twice.
func (s *NATSServer) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
