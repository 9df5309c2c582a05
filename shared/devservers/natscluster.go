package devservers

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NATSCluster is a JetStream cluster of embedded NATS servers on loopback,
// joined by routes, each with its own file store, fsyncing before each ack
// (SyncAlways). Nodes can be stopped and
// started again on the same ports and store (a lost server coming back).
type NATSCluster struct {
	// URLs are the client URLs of every node, in order.
	URLs []string
	mu   sync.Mutex
	opts []NATSOptions
	srvs []*NATSServer // nil while a node is stopped
}

// StartNATSCluster starts n (≥ 3 for a quorum with one node lost) clustered
// servers, stores under dir/node-<i>, and waits until JetStream has a meta
// leader.
func StartNATSCluster(dir string, n int) (*NATSCluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("devservers: cluster of %d nodes", n)
	}
	c := &NATSCluster{}
	var routes []string
	for i := range n {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		cport, err := FreePort()
		if err != nil {
			return nil, err
		}
		c.opts = append(c.opts, NATSOptions{Host: "127.0.0.1", Port: port, ClusterPort: cport,
			ServerName: "n" + strconv.Itoa(i), ClusterName: "facefleet", SyncAlways: true,
			StoreDir: filepath.Join(dir, "node-"+strconv.Itoa(i))})
		routes = append(routes, "nats-route://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(cport)))
		c.URLs = append(c.URLs, "nats://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	c.srvs = make([]*NATSServer, n)
	for i := range c.opts {
		c.opts[i].Routes = routes
		if err := c.Start(i); err != nil {
			c.Shutdown()
			return nil, err
		}
	}
	if err := c.WaitMetaLeader(30 * time.Second); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// URL returns the comma-separated client URLs (what FACEFLEET_NATS_URL takes).
func (c *NATSCluster) URL() string { return strings.Join(c.URLs, ",") }

// Start starts node i (again) on its ports and store; a running node is
// left alone.
func (c *NATSCluster) Start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srvs[i] != nil {
		return nil
	}
	s, err := StartNATS(c.opts[i])
	if err != nil {
		return fmt.Errorf("devservers: cluster node %d: %w", i, err)
	}
	c.srvs[i] = s
	return nil
}

// Stop shuts node i down (its store stays for a later Start).
func (c *NATSCluster) Stop(i int) {
	c.mu.Lock()
	s := c.srvs[i]
	c.srvs[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
	}
}

// Node returns node i, or nil while it is stopped.
func (c *NATSCluster) Node(i int) *NATSServer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srvs[i]
}

// StreamLeader returns the index of the running node leading the stream
// (account $G), or -1.
func (c *NATSCluster) StreamLeader(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.srvs {
		if s != nil && s.srv.JetStreamIsStreamLeader("$G", stream) {
			return i
		}
	}
	return -1
}

// WaitMetaLeader waits until a running node is the JetStream meta leader
// and sees every running node as a JetStream peer (so that an R3 stream
// can be placed).
func (c *NATSCluster) WaitMetaLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		running := 0
		for _, s := range c.srvs {
			if s != nil {
				running++
			}
		}
		for _, s := range c.srvs {
			if s != nil && s.srv.JetStreamIsLeader() && len(s.srv.JetStreamClusterPeers()) >= running {
				c.mu.Unlock()
				return nil
			}
		}
		c.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%w: no JetStream meta leader after %s", ErrNotReady, timeout)
}

// Shutdown stops every node.
func (c *NATSCluster) Shutdown() {
	for i := range c.srvs {
		c.Stop(i)
	}
}
