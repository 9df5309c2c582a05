package devservers

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the Sentinels of a RedisSentinelSet
// monitor.
const SentinelMaster = "facefleet"

// RedisSentinelSet is a durable Redis master with replicas and three
// Sentinels, all redis-server processes on loopback. Nodes can be killed
// and started again on their ports and data (a restarted old master is
// turned into a replica by the Sentinels).
type RedisSentinelSet struct {
	// SentinelAddrs are the Sentinels' host:port (FACEFLEET_REDIS_ADDRS).
	SentinelAddrs []string
	bin           string
	ctx           context.Context
	dir           string
	mu            sync.Mutex
	ports         []int // data nodes; index 0 starts as master
	nodes         []*RedisServer
	sentinels     []*RedisServer
}

// StartRedisSentinelSet starts a master, replicas replicas and three
// Sentinels (quorum 2, down-after 1 s, failover timeout 5 s) under dir, and
// waits until every replica is in sync and every Sentinel knows them.
func StartRedisSentinelSet(ctx context.Context, dir string, replicas int) (*RedisSentinelSet, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrRedisNotInstalled
	}
	set := &RedisSentinelSet{bin: bin, ctx: ctx, dir: dir}
	for range 1 + replicas {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		set.ports = append(set.ports, p)
	}
	set.nodes = make([]*RedisServer, len(set.ports))
	for i := range set.ports {
		if err := set.StartNode(i); err != nil {
			set.Stop()
			return nil, err
		}
	}
	if err := set.waitReplicas(replicas, 20*time.Second); err != nil {
		set.Stop()
		return nil, err
	}
	for i := range 3 {
		p, err := FreePort()
		if err != nil {
			set.Stop()
			return nil, err
		}
		conf := filepath.Join(dir, "sentinel-"+strconv.Itoa(i)+".conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode yes\ndir %s\n"+
			"sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 5000\nsentinel parallel-syncs %s 1\n",
			p, dir, SentinelMaster, set.ports[0], SentinelMaster, SentinelMaster, SentinelMaster)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			set.Stop()
			return nil, err
		}
		s, err := startRedisProc(ctx, bin, p, []string{conf, "--sentinel", "--loglevel", "warning"}, false)
		if err != nil {
			set.Stop()
			return nil, fmt.Errorf("devservers: sentinel %d: %w", i, err)
		}
		set.sentinels = append(set.sentinels, s)
		set.SentinelAddrs = append(set.SentinelAddrs, s.Addr)
	}
	// Every Sentinel has discovered the replicas and the other Sentinels.
	err = pollUntil(ctx, nil, 20*time.Second, func() error {
		for _, a := range set.SentinelAddrs {
			c := redis.NewSentinelClient(&redis.Options{Addr: a})
			m, err := c.Master(ctx, SentinelMaster).Result()
			_ = c.Close()
			if err != nil {
				return err
			}
			if m["num-slaves"] != strconv.Itoa(replicas) || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s: %s replicas, %s other sentinels", a, m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	})
	if err != nil {
		set.Stop()
		return nil, fmt.Errorf("%w: sentinels: %v", ErrNotReady, err)
	}
	return set, nil
}

// StartNode starts data node i (again): durable, in dir/node-<i>; a node
// other than 0 starts as a replica of node 0 the first time. A restarted
// node keeps the role the Sentinels gave it (they rewrite it as needed).
func (s *RedisSentinelSet) StartNode(i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes[i] != nil {
		select {
		case <-s.nodes[i].Done():
		default:
			return nil
		}
	}
	dir := filepath.Join(s.dir, "node-"+strconv.Itoa(i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "redis.conf")
	if _, err := os.Stat(conf); err != nil {
		// min-replicas-to-write: a master that lost its replica (or an old
		// master back before the Sentinels demote it) refuses writes
		// rather than take ones a failover would drop (docs/DEPLOY.md).
		text := fmt.Sprintf("bind 127.0.0.1\nport %d\nprotected-mode yes\ndir %s\nappendonly yes\n"+
			"appendfsync everysec\nsave \"\"\nloglevel warning\nmin-replicas-to-write 1\nmin-replicas-max-lag 5\n", s.ports[i], dir)
		if i > 0 {
			text += fmt.Sprintf("replicaof 127.0.0.1 %d\n", s.ports[0])
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return err
		}
	} else if i == s.masterIndexLocked() {
		// nothing: it is (still) the master
	} else if m := s.currentMasterLocked(); m != "" && m != s.addr(i) {
		// An old master coming back: as the Sentinels would, make it a
		// replica of the current master right away (they also do it,
		// within a few seconds), so it never accepts a write of its own.
		host, port, _ := net.SplitHostPort(m)
		_ = appendLine(conf, fmt.Sprintf("replicaof %s %s\n", host, port))
	}
	n, err := startRedisProc(s.ctx, s.bin, s.ports[i], []string{conf}, true)
	if err != nil {
		return fmt.Errorf("devservers: redis node %d: %w", i, err)
	}
	s.nodes[i] = n
	return nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(line)
	return err
}

func (s *RedisSentinelSet) addr(i int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports[i]))
}

// currentMasterLocked asks the Sentinels for the master's address ("" when
// none answers).
func (s *RedisSentinelSet) currentMasterLocked() string {
	for _, a := range s.SentinelAddrs {
		c := redis.NewSentinelClient(&redis.Options{Addr: a})
		r, err := c.GetMasterAddrByName(s.ctx, SentinelMaster).Result()
		_ = c.Close()
		if err == nil && len(r) == 2 {
			return net.JoinHostPort(r[0], r[1])
		}
	}
	return ""
}

func (s *RedisSentinelSet) masterIndexLocked() int {
	m := s.currentMasterLocked()
	for i := range s.ports {
		if s.addr(i) == m {
			return i
		}
	}
	if m == "" {
		return 0
	}
	return -1
}

// MasterIndex returns the data node the Sentinels name master (-1: none
// of ours; 0 before the Sentinels start).
func (s *RedisSentinelSet) MasterIndex() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.masterIndexLocked()
}

// Addr returns the address of data node i.
func (s *RedisSentinelSet) Addr(i int) string { return s.addr(i) }

// KillNode SIGKILLs data node i.
func (s *RedisSentinelSet) KillNode(i int) {
	s.mu.Lock()
	n := s.nodes[i]
	s.mu.Unlock()
	if n != nil {
		n.Kill()
	}
}

// waitReplicas waits until node 0 reports n connected replicas in sync.
func (s *RedisSentinelSet) waitReplicas(n int, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: s.addr(0)})
	defer c.Close()
	err := pollUntil(s.ctx, nil, timeout, func() error {
		info, err := c.Info(s.ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "connected_slaves:"+strconv.Itoa(n)) {
			return fmt.Errorf("replication: %s", info)
		}
		if n > 0 && strings.Count(info, "state=online") < n {
			return fmt.Errorf("replicas not online yet")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: replicas: %v", ErrNotReady, err)
	}
	return nil
}

// Stop stops every process.
func (s *RedisSentinelSet) Stop() {
	for _, n := range s.sentinels {
		n.Kill()
	}
	s.mu.Lock()
	nodes := append([]*RedisServer(nil), s.nodes...)
	s.mu.Unlock()
	for _, n := range nodes {
		if n != nil {
			n.Kill()
		}
	}
}

// RedisCluster is a Redis Cluster of redis-server processes on loopback,
// masters only, slots spread evenly (redis-cli --cluster create).
type RedisCluster struct {
	// Addrs are the nodes' host:port (FACEFLEET_REDIS_ADDRS).
	Addrs []string
	nodes []*RedisServer
}

// StartRedisCluster starts masters (≥ 3) ephemeral cluster nodes with
// their cluster state under dir and waits until the cluster is ok.
func StartRedisCluster(ctx context.Context, dir string, masters int) (*RedisCluster, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrRedisNotInstalled
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("devservers: redis-cli not found on PATH (apt-get install -y redis-tools)")
	}
	c := &RedisCluster{}
	for i := range masters {
		p, err := FreePort()
		if err != nil {
			c.Stop()
			return nil, err
		}
		nd := filepath.Join(dir, "cluster-"+strconv.Itoa(i))
		if err := os.MkdirAll(nd, 0o755); err != nil {
			c.Stop()
			return nil, err
		}
		n, err := startRedisProc(ctx, bin, p, []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(p),
			"--protected-mode", "yes", "--save", "", "--appendonly", "no", "--loglevel", "warning",
			"--dir", nd, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(nd, "nodes.conf"),
			"--cluster-node-timeout", "2000"}, false)
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		c.Addrs = append(c.Addrs, n.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("devservers: redis-cli --cluster create: %w\n%s", err, out)
	}
	err = pollUntil(ctx, nil, 20*time.Second, func() error {
		for _, a := range c.Addrs {
			rc := redis.NewClient(&redis.Options{Addr: a})
			info, err := rc.ClusterInfo(ctx).Result()
			_ = rc.Close()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster not ok", a)
			}
		}
		return nil
	})
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("%w: redis cluster: %v", ErrNotReady, err)
	}
	return c, nil
}

// Stop kills every node.
func (c *RedisCluster) Stop() {
	for _, n := range c.nodes {
		n.Kill()
	}
}
