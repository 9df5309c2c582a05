package queue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
)

func TestPublishBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{50, 100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		require.Equal(t, w*time.Millisecond, queue.PublishBackoff(i+1), "attempt %d", i+1)
	}
	require.Equal(t, 50*time.Millisecond, queue.PublishBackoff(0))
}

func TestRetryablePublishError(t *testing.T) {
	t.Parallel()
	require.True(t, queue.RetryablePublishError(jetstream.ErrNoStreamResponse))
	require.True(t, queue.RetryablePublishError(nats.ErrTimeout))
	require.True(t, queue.RetryablePublishError(context.DeadlineExceeded))
	require.True(t, queue.RetryablePublishError(&jetstream.APIError{Code: 503, ErrorCode: 10008}))
	require.False(t, queue.RetryablePublishError(&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}))
	require.False(t, queue.RetryablePublishError(jetstream.ErrStreamNotFound))
	require.False(t, queue.RetryablePublishError(errors.New("other")))
	require.False(t, queue.RetryablePublishError(nil))
}

// TestClusterR3SurvivesNodeLoss runs a 3-node JetStream cluster with an R3
// stream and consumers, publishes jobs at a steady rate while a worker
// fetches and acks them, stops the stream leader mid-run and starts it again
// later. Every published job must be delivered, each stored exactly once
// (one stream sequence per job ID), and no Publish may fail.
func TestClusterR3SurvivesNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster fault test")
	}
	cl, err := devservers.StartNATSCluster(t.TempDir(), 3)
	require.NoError(t, err)
	t.Cleanup(cl.Shutdown)
	connect := func(name string) jetstream.JetStream {
		nc, err := nats.Connect(cl.URL(), nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		return js
	}
	pubJS, subJS := connect("producer"), connect("worker")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := queue.Config{Replicas: 3, AckWait: 3 * time.Second, MaxDeliver: 20}
	require.NoError(t, queue.Provision(ctx, pubJS, cfg))
	pq, err := queue.New(pubJS, cfg)
	require.NoError(t, err)
	sq, err := queue.New(subJS, cfg)
	require.NoError(t, err)
	info, err := pubJS.Stream(ctx, "FACEFLEET_JOBS")
	require.NoError(t, err)
	require.Equal(t, 3, info.CachedInfo().Config.Replicas)
	f, err := sq.Fetcher(ctx)
	require.NoError(t, err)

	const n = 300
	var (
		mu        sync.Mutex
		seqs      = map[string]map[uint64]bool{} // job ID → stream sequences delivered
		published = map[string]bool{}
	)
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var wg sync.WaitGroup
	var fetchErrs int
	var longestGap time.Duration
	wg.Go(func() {
		last := time.Now()
		for workCtx.Err() == nil {
			msgs, err := f.Fetch(workCtx, 16, 200*time.Millisecond)
			if err != nil {
				fetchErrs++
				if fetchErrs < 5 || fetchErrs%50 == 0 {
					t.Logf("fetch error %d: %v", fetchErrs, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, m := range msgs {
				dec, derr := job.Decode(m.Data())
				md, merr := m.Metadata()
				if derr == nil && merr == nil {
					mu.Lock()
					if seqs[dec.ID] == nil {
						seqs[dec.ID] = map[uint64]bool{}
					}
					seqs[dec.ID][md.Sequence.Stream] = true
					mu.Unlock()
				}
				actx, acancel := context.WithTimeout(workCtx, 2*time.Second)
				_ = m.DoubleAck(actx) // a lost ack: redelivered after AckWait
				acancel()
			}
			if len(msgs) > 0 {
				longestGap = max(longestGap, time.Since(last))
				last = time.Now()
			}
		}
	})

	var slowest time.Duration
	var electWG sync.WaitGroup // the watch for the new stream leader
	defer electWG.Wait()
	killed, restarted := -1, false
	var killAt, restartAt time.Time
	for i := range n {
		if i == n/3 {
			killed = cl.StreamLeader("FACEFLEET_JOBS")
			require.GreaterOrEqual(t, killed, 0, "a stream leader")
			killAt = time.Now()
			cl.Stop(killed)
			t.Logf("stopped node %d (stream leader) after %d publishes", killed, i)
			electWG.Go(func() {
				for time.Since(killAt) < 30*time.Second {
					if l := cl.StreamLeader("FACEFLEET_JOBS"); l >= 0 && l != killed {
						t.Logf("node %d leads the stream %s after the stop", l, time.Since(killAt).Round(time.Millisecond))
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		if i == 2*n/3 {
			// Down for at least 3 s, publishing all the while.
			for time.Since(killAt) < 3*time.Second {
				m := newJob(t, job.PriorityNormal)
				_, err := pq.Publish(ctx, m)
				require.NoError(t, err, "publish while node %d is down", killed)
				mu.Lock()
				published[m.ID] = true
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
			require.NoError(t, cl.Start(killed))
			restartAt, restarted = time.Now(), true
			t.Logf("restarted node %d after %d publishes", killed, i)
		}
		m := newJob(t, job.PriorityNormal)
		start := time.Now()
		dup, err := pq.Publish(ctx, m)
		require.NoError(t, err, "publish %d", i)
		require.False(t, dup, "publish %d reported a duplicate", i)
		slowest = max(slowest, time.Since(start))
		mu.Lock()
		published[m.ID] = true
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	require.True(t, restarted)

	missing := func() int {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for id := range published {
			if len(seqs[id]) == 0 {
				k++
			}
		}
		return k
	}
	deadline := time.Now().Add(20 * time.Second)
	for missing() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if missing() > 0 {
		for _, p := range job.Priorities() {
			c, err := subJS.Consumer(ctx, "FACEFLEET_JOBS", queue.ConsumerName(p))
			if err != nil {
				t.Logf("consumer %s: %v", p, err)
				continue
			}
			ci, err := c.Info(ctx)
			if err != nil {
				t.Logf("consumer %s info: %v", p, err)
				continue
			}
			if ci.NumPending > 0 {
				b, err := c.FetchNoWait(5)
				k := 0
				if err == nil {
					for range b.Messages() {
						k++
					}
					t.Logf("probe nowait: %d msgs, err %v", k, b.Error())
				}
				b2, err := c.Fetch(5, jetstream.FetchMaxWait(3*time.Second))
				k = 0
				if err == nil {
					for range b2.Messages() {
						k++
					}
					t.Logf("probe wait: %d msgs, err %v", k, b2.Error())
				}
			}
			t.Logf("consumer %s: pending %d ackpending %d redelivered %d waiting %d leader %s delivered %+v ackfloor %+v", p, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting, ci.Cluster.Leader, ci.Delivered, ci.AckFloor)
		}
		s, _ := pubJS.Stream(ctx, "FACEFLEET_JOBS")
		si, _ := s.Info(ctx)
		t.Logf("stream: %+v leader %s", si.State, si.Cluster.Leader)
	}
	require.Zero(t, missing(), "published jobs never delivered (fetch errors %d)", fetchErrs)
	// The stream drains (work queue: acked messages are removed).
	require.Eventually(t, func() bool {
		s, err := pubJS.Stream(ctx, "FACEFLEET_JOBS")
		if err != nil {
			return false
		}
		si, err := s.Info(ctx)
		return err == nil && si.State.Msgs == 0
	}, 60*time.Second, 200*time.Millisecond, "stream drained")
	stopWork()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for id := range published {
		require.Len(t, seqs[id], 1, "job %s stored once", id)
	}
	require.Len(t, seqs, len(published), "no job delivered that was not published")
	t.Logf("%d jobs, node %d down %s; slowest publish %s; longest delivery gap %s; fetch errors %d",
		len(published), killed, restartAt.Sub(killAt).Round(time.Millisecond), slowest.Round(time.Millisecond),
		longestGap.Round(time.Millisecond), fetchErrs)
	_ = n
}

// TestFetcherSurvivesRecreatedConsumer deletes a consumer under a running
// Fetcher and provisions it again: the fetcher reports the loss, then
// delivers the next job from the new consumer.
func TestFetcherSurvivesRecreatedConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	f, err := b.q.Fetcher(b.ctx)
	require.NoError(t, err)
	require.NoError(t, b.js.DeleteConsumer(b.ctx, "FACEFLEET_JOBS", queue.ConsumerName(job.PriorityNormal)))
	_, err = f.Fetch(b.ctx, 1, 0)
	require.ErrorIs(t, err, jetstream.ErrConsumerNotFound)
	require.NoError(t, queue.Provision(b.ctx, b.js, queue.Config{}))
	m := newJob(t, job.PriorityNormal)
	_, err = b.q.Publish(b.ctx, m)
	require.NoError(t, err)
	var got []jetstream.Msg
	require.Eventually(t, func() bool {
		msgs, err := f.Fetch(b.ctx, 1, 0)
		got = append(got, msgs...)
		return err == nil && len(got) == 1
	}, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, got[0].Ack())
}

// TestPublishRetriedAcrossServerRestart publishes while the only server is
// down for longer than one publish attempt (5 s): the attempt times out, the
// retry after the restart is stored, once.
func TestPublishRetriedAcrossServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a publish attempt")
	}
	port, err := devservers.FreePort()
	require.NoError(t, err)
	opts := devservers.NATSOptions{Port: port, StoreDir: t.TempDir()}
	srv, err := devservers.StartNATS(opts)
	require.NoError(t, err)
	nc, err := nats.Connect(srv.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, queue.Provision(ctx, js, queue.Config{}))
	q, err := queue.New(js, queue.Config{})
	require.NoError(t, err)

	srv.Shutdown()
	m := newJob(t, job.PriorityNormal)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := q.Publish(ctx, m)
		done <- err
	}()
	time.Sleep(6 * time.Second)
	srv, err = devservers.StartNATS(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	require.NoError(t, <-done)
	took := time.Since(start)
	require.Greater(t, took, 6*time.Second, "it waited for the server")
	s, err := js.Stream(ctx, "FACEFLEET_JOBS")
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs, "stored once")
	t.Logf("publish succeeded %s after the server went down", took.Round(time.Millisecond))
}
