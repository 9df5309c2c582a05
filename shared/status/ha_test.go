package status_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/shared/toolcheck"
)

// lifecycle drives one job through create → start → progress → succeed as a
// worker would: an op that fails (connection lost, failover, not yet
// replicated) is sent again until it is acknowledged. A refusal that says a
// step acknowledged earlier is missing (not found, not running) fails the
// job: an acknowledged status was lost.
func lifecycle(ctx context.Context, st *status.Store, id, tenant string, retries *atomic.Int64) error {
	retry := func(op string, f func() error, done func(error) bool) error {
		for {
			err := f()
			if err == nil || done(err) {
				return nil
			}
			if errors.Is(err, status.ErrNotFound) || errors.Is(err, status.ErrStaleTransition) ||
				errors.Is(err, status.ErrTerminal) {
				return fmt.Errorf("%s %s: %w (an acknowledged step is missing)", op, id, err)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s %s: %w", op, id, err)
			}
			retries.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
	never := func(error) bool { return false }
	if err := retry("create", func() error {
		_, _, err := st.Create(ctx, status.Record{ID: id, Tenant: tenant, Input: "inputs/" + id})
		return err
	}, never); err != nil {
		return err
	}
	if err := retry("start", func() error { _, err := st.Start(ctx, id, "w", "cpu", 1); return err }, never); err != nil {
		return err
	}
	if err := retry("progress", func() error { _, err := st.Progress(ctx, id, "detect", 50); return err }, never); err != nil {
		return err
	}
	return retry("succeed", func() error {
		_, err := st.Succeed(ctx, id, []string{"results/" + id + "/result.json"}, nil)
		return err
	}, func(err error) bool {
		// Our own earlier attempt applied it (its reply was lost).
		var te *status.TransitionError
		return errors.As(err, &te) && te.Current.State == status.StateSucceeded
	})
}

// TestSentinelFailoverLosesNoStatus runs jobs' status lifecycles against a
// master, one replica and three Sentinels (real redis-server processes),
// SIGKILLs the master mid-run and restarts it later (the Sentinels make it
// a replica). With WaitReplicas 1 no acknowledged status is lost: every job
// ends succeeded and no step had to be redone.
func TestSentinelFailoverLosesNoStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	set, err := devservers.StartRedisSentinelSet(ctx, t.TempDir(), 1)
	if errors.Is(err, devservers.ErrRedisNotInstalled) {
		toolcheck.Missing(t, "%v", err)
	}
	require.NoError(t, err)
	t.Cleanup(set.Stop)
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: devservers.SentinelMaster,
		SentinelAddrs: set.SentinelAddrs, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: 0})
	t.Cleanup(func() { _ = rdb.Close() })
	st := status.New(rdb, status.Config{TTL: time.Hour, WaitReplicas: 1, WaitTimeout: time.Second})

	const jobs = 300
	var (
		wg       sync.WaitGroup
		retries  atomic.Int64
		started  atomic.Int64
		mu       sync.Mutex
		failures []error
		ids      []string
	)
	sem := make(chan struct{}, 8)
	var killAt time.Time
	var firstAfter atomic.Int64 // unix nanos of the first job finished after the kill
	killed := make(chan struct{})
	for i := range jobs {
		if i == jobs/3 {
			require.Equal(t, 0, set.MasterIndex())
			killAt = time.Now()
			set.KillNode(0)
			close(killed)
			t.Logf("SIGKILLed master %s after %d jobs started", set.Addr(0), i)
		}
		id := uuid.Must(uuid.NewV7()).String()
		ids = append(ids, id)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			started.Add(1)
			err := lifecycle(ctx, st, id, "acme", &retries)
			select {
			case <-killed:
				firstAfter.CompareAndSwap(0, time.Now().UnixNano())
			default:
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		})
		if i == jobs/3 {
			// Wait for the failover, then bring the old master back as a
			// replica (until then WAIT 1 cannot be satisfied).
			require.Eventually(t, func() bool { return set.MasterIndex() == 1 }, 30*time.Second, 50*time.Millisecond)
			promoted := time.Since(killAt)
			require.NoError(t, set.StartNode(0))
			t.Logf("replica promoted %s after the kill; old master restarted", promoted.Round(time.Millisecond))
		}
	}
	wg.Wait()
	require.Empty(t, failures)
	for _, id := range ids {
		rec, err := st.Get(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, status.StateSucceeded, rec.State, id)
		require.Equal(t, int64(4), rec.Revision, "job %s: each step applied once", id)
	}
	t.Logf("%d jobs, all succeeded; %d retried ops; first job done %s after the kill",
		jobs, retries.Load(), time.Duration(firstAfter.Load()-killAt.UnixNano()).Round(time.Millisecond))
}

// TestClusterSlotSafe runs the store on a 3-master Redis Cluster: every
// transition (one key per script), Watch (events published on any node),
// Reject and the tenant index with List (records on other slots than the
// index) work; records are spread over every master.
func TestClusterSlotSafe(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := devservers.StartRedisCluster(ctx, t.TempDir(), 3)
	if errors.Is(err, devservers.ErrRedisNotInstalled) {
		toolcheck.Missing(t, "%v", err)
	}
	require.NoError(t, err)
	t.Cleanup(cl.Stop)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	st := status.New(rdb, status.Config{TTL: time.Hour})

	var retries atomic.Int64
	var ids []string
	for range 30 {
		id := uuid.Must(uuid.NewV7()).String()
		ids = append(ids, id)
		// A refused op (CROSSSLOT) would be retried until this ends.
		jctx, jcancel := context.WithTimeout(ctx, 5*time.Second)
		require.NoError(t, lifecycle(jctx, st, id, "acme", &retries))
		jcancel()
	}
	require.Zero(t, retries.Load(), "no op failed (CROSSSLOT would)")

	// Watch across the cluster.
	id := uuid.Must(uuid.NewV7()).String()
	_, _, err = st.Create(ctx, status.Record{ID: id, Tenant: "acme", Input: "inputs/" + id})
	require.NoError(t, err)
	ch, err := st.Watch(ctx, id)
	require.NoError(t, err)
	require.Equal(t, status.StateQueued, (<-ch).State)
	_, err = st.Start(ctx, id, "w", "cpu", 1)
	require.NoError(t, err)
	_, err = st.Fail(ctx, id, "image_undecodable", "bad")
	require.NoError(t, err)
	var states []status.State
	for r := range ch {
		states = append(states, r.State)
	}
	require.Equal(t, []status.State{status.StateRunning, status.StateFailed}, states)
	ids = append(ids, id)

	// Reject creates a failed record (one key too).
	rid := uuid.Must(uuid.NewV7()).String()
	rec, err := st.Reject(ctx, status.Record{ID: rid, Tenant: "acme"}, "message_invalid", "bad json")
	require.NoError(t, err)
	require.Equal(t, status.StateFailed, rec.State)
	ids = append(ids, rid)

	// The tenant's index lists them all, newest first.
	var listed []string
	before := ""
	for {
		recs, next, err := st.List(ctx, "acme", before, 7)
		require.NoError(t, err)
		for _, r := range recs {
			listed = append(listed, r.ID)
		}
		if next == "" {
			break
		}
		before = next
	}
	want := append([]string(nil), ids...)
	sort.Sort(sort.Reverse(sort.StringSlice(want)))
	require.Equal(t, want, listed)

	// The records live on every master.
	perNode := map[string]int{}
	for _, id := range ids {
		n, err := rdb.MasterForKey(ctx, st.Key(id))
		require.NoError(t, err)
		perNode[n.Options().Addr]++
	}
	require.Len(t, perNode, 3, "records on every master: %v", perNode)
	t.Logf("records per master: %v", perNode)
}

// TestWaitReplicasRefusesUnreplicatedWrite: with WaitReplicas 1 and no
// replica, a transition is applied but reported ErrNotReplicated (the
// writer retries; a retry of the same step is a no-op).
func TestWaitReplicasRefusesUnreplicatedWrite(t *testing.T) {
	t.Parallel()
	env := testkit.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := status.New(env.Client, status.Config{TTL: time.Hour, WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	id := uuid.Must(uuid.NewV7()).String()
	_, _, err := st.Create(ctx, status.Record{ID: id, Tenant: "acme", Input: "inputs/" + id})
	require.ErrorIs(t, err, status.ErrNotReplicated)
	rec, err := st.Get(ctx, id)
	require.NoError(t, err, "the write itself stands")
	require.Equal(t, status.StateQueued, rec.State)
	// The script is not cached on a fresh server: EVALSHA's NOSCRIPT falls
	// back to EVAL inside the pipeline.
	require.NoError(t, env.Client.ScriptFlush(ctx).Err())
	_, err = st.Start(ctx, id, "w", "cpu", 1)
	require.ErrorIs(t, err, status.ErrNotReplicated)
	rec, err = st.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, rec.State)
}
