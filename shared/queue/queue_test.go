package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/testkit"
)

type bundle struct {
	js  jetstream.JetStream
	q   *queue.Queue
	ctx context.Context
}

func setup(t testing.TB, cfg queue.Config) *bundle {
	t.Helper()
	env := testkit.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	require.NoError(t, queue.Provision(ctx, env.JS, cfg))
	q, err := queue.New(env.JS, cfg)
	require.NoError(t, err)
	return &bundle{js: env.JS, q: q, ctx: ctx}
}

func newJob(t testing.TB, p job.Priority) *job.Message {
	t.Helper()
	m, err := job.New("acme", job.Input{Bucket: "facefleet", Key: "inputs/acme/b.jpg"}, job.Options{}, p, time.Now())
	require.NoError(t, err)
	return m
}

func TestProvisionIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	require.NoError(t, queue.Provision(b.ctx, b.js, queue.Config{}))
	// Updating a setting converges too.
	require.NoError(t, queue.Provision(b.ctx, b.js, queue.Config{AckWait: 30 * time.Second, MaxDeliver: 3,
		BackOff: []time.Duration{time.Second, 5 * time.Second}}))
	s, err := b.js.Stream(b.ctx, "FACEFLEET_JOBS")
	require.NoError(t, err)
	info, err := s.Info(b.ctx)
	require.NoError(t, err)
	require.Equal(t, jetstream.WorkQueuePolicy, info.Config.Retention)
	require.Equal(t, jetstream.FileStorage, info.Config.Storage)
	require.ElementsMatch(t, []string{"facefleet.jobs.high", "facefleet.jobs.normal", "facefleet.jobs.low"}, info.Config.Subjects)
	c, err := b.js.Consumer(b.ctx, "FACEFLEET_JOBS", "workers-high")
	require.NoError(t, err)
	ci, err := c.Info(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 3, ci.Config.MaxDeliver)
	require.Equal(t, jetstream.AckExplicitPolicy, ci.Config.AckPolicy)
	require.Equal(t, []time.Duration{time.Second, 5 * time.Second}, ci.Config.BackOff)
	dlq, err := b.js.Stream(b.ctx, "FACEFLEET_DLQ")
	require.NoError(t, err)
	require.Equal(t, jetstream.LimitsPolicy, dlq.CachedInfo().Config.Retention)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	err := queue.Config{Replicas: 9, MaxDeliver: 2, BackOff: []time.Duration{1, 2, 3}, AckWait: time.Millisecond}.WithDefaults().Validate()
	require.ErrorIs(t, err, queue.ErrInvalidConfig)
	require.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 3)
	require.NoError(t, queue.DefaultConfig().Validate())
}

func TestPublishDuplicateStoresOne(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	m := newJob(t, job.PriorityNormal)
	dup, err := b.q.Publish(b.ctx, m)
	require.NoError(t, err)
	require.False(t, dup)
	dup, err = b.q.Publish(b.ctx, m)
	require.NoError(t, err)
	require.True(t, dup)
	// Consumer counters are updated asynchronously after the publish ack.
	require.Eventually(t, func() bool {
		lag, err := b.q.Lag(b.ctx)
		return err == nil && lag.Pending[job.PriorityNormal] == 1 && lag.Total() == 1
	}, 5*time.Second, 5*time.Millisecond)

	f, err := b.q.Fetcher(b.ctx)
	require.NoError(t, err)
	msgs, err := f.Fetch(b.ctx, 10, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	got, err := job.Decode(msgs[0].Data())
	require.NoError(t, err)
	require.Equal(t, m.ID, got.ID)
	require.Equal(t, "acme", msgs[0].Headers().Get(queue.HeaderTenant))
	require.NoError(t, msgs[0].DoubleAck(b.ctx))
}

func TestPublishRejectsInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	m := newJob(t, job.PriorityLow)
	m.Input.Key = "../x"
	_, err := b.q.Publish(b.ctx, m)
	require.ErrorIs(t, err, job.ErrInvalid)
}

func TestFetchPriorityOrderAndNeverMoreThanN(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	want := map[string]job.Priority{}
	// Publish low first so arrival order is the opposite of priority order.
	for _, p := range []job.Priority{job.PriorityLow, job.PriorityNormal, job.PriorityHigh} {
		for range 3 {
			m := newJob(t, p)
			want[m.ID] = p
			_, err := b.q.Publish(b.ctx, m)
			require.NoError(t, err)
		}
	}
	f, err := b.q.Fetcher(b.ctx)
	require.NoError(t, err)
	var order []job.Priority
	for _, n := range []int{2, 2, 4, 1, 5} {
		msgs, err := f.Fetch(b.ctx, n, 0)
		require.NoError(t, err)
		require.LessOrEqual(t, len(msgs), n, "never more than free slots")
		for _, m := range msgs {
			got, err := job.Decode(m.Data())
			require.NoError(t, err)
			require.Equal(t, want[got.ID], b.q.Priority(m))
			order = append(order, want[got.ID])
			require.NoError(t, m.DoubleAck(b.ctx))
		}
	}
	require.Equal(t, []job.Priority{"high", "high", "high", "normal", "normal", "normal", "low", "low", "low"}, order)
	msgs, err := f.Fetch(b.ctx, 3, 0)
	require.NoError(t, err)
	require.Empty(t, msgs)
	lag, err := b.q.Lag(b.ctx)
	require.NoError(t, err)
	require.Zero(t, lag.Total())
}

func TestFetchWaitsForArrival(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	f, err := b.q.Fetcher(b.ctx)
	require.NoError(t, err)
	got := make(chan int, 1)
	go func() {
		msgs, err := f.Fetch(b.ctx, 4, 10*time.Second)
		if err != nil {
			got <- -1
			return
		}
		for _, m := range msgs {
			_ = m.Ack()
		}
		got <- len(msgs)
	}()
	_, err = b.q.Publish(b.ctx, newJob(t, job.PriorityLow))
	require.NoError(t, err)
	select {
	case n := <-got:
		require.Equal(t, 1, n)
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch did not return")
	}
	// Empty queue: returns empty after maxWait.
	start := time.Now()
	msgs, err := f.Fetch(b.ctx, 1, 50*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, msgs)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}

func TestDeadLetter(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{MaxDeliver: 2})
	m := newJob(t, job.PriorityHigh)
	_, err := b.q.Publish(b.ctx, m)
	require.NoError(t, err)
	f, err := b.q.Fetcher(b.ctx)
	require.NoError(t, err)
	// First delivery fails transiently.
	msgs, err := f.Fetch(b.ctx, 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.False(t, b.q.IsLastDelivery(msgs[0]))
	require.NoError(t, msgs[0].Nak())
	msgs, err = f.Fetch(b.ctx, 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.True(t, b.q.IsLastDelivery(msgs[0]))
	rej := queue.Rejection{Reason: "boom: transient limit", Code: "internal", JobID: m.ID}
	require.NoError(t, b.q.DeadLetter(b.ctx, msgs[0], rej))
	require.NoError(t, b.q.DeadLetter(b.ctx, msgs[0], rej), "idempotent")
	require.NoError(t, msgs[0].TermWithReason("dead-lettered"))

	dlq, err := b.js.Stream(b.ctx, "FACEFLEET_DLQ")
	require.NoError(t, err)
	info, err := dlq.Info(b.ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs)
	raw, err := dlq.GetMsg(b.ctx, 1)
	require.NoError(t, err)
	got, err := job.Decode(raw.Data)
	require.NoError(t, err)
	require.Equal(t, m.ID, got.ID)
	require.Equal(t, "boom: transient limit", raw.Header.Get(queue.HeaderDLQReason))
	require.Equal(t, "2", raw.Header.Get(queue.HeaderDLQDeliveries))
	require.Equal(t, "facefleet.jobs.high", raw.Header.Get(queue.HeaderDLQSubject))
	require.Equal(t, "acme", raw.Header.Get(queue.HeaderTenant))
	require.Equal(t, m.ID, raw.Header.Get(queue.HeaderDLQMsgID), "the original Nats-Msg-Id is kept")

	// The operator's view: list, get, resubmit a copy, delete.
	list, err := b.q.DeadLetters(b.ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	d := list[0]
	require.Equal(t, uint64(1), d.Seq)
	require.Equal(t, rej.Reason, d.Reason)
	require.Equal(t, rej.Code, d.Code)
	require.Equal(t, m.ID, d.JobID)
	require.EqualValues(t, 2, d.Deliveries)
	require.Equal(t, "facefleet.jobs.high", d.Subject)
	require.Equal(t, raw.Data, d.Data)
	one, err := b.q.GetDeadLetter(b.ctx, 1)
	require.NoError(t, err)
	require.Equal(t, d.JobID, one.JobID)
	_, err = b.q.GetDeadLetter(b.ctx, 99)
	require.ErrorIs(t, err, queue.ErrDeadLetterNotFound)

	dup, err := b.q.Resubmit(b.ctx, got, d.Seq)
	require.NoError(t, err)
	require.False(t, dup, "the job's own ID must not de-duplicate a retry")
	dup, err = b.q.Resubmit(b.ctx, got, d.Seq)
	require.NoError(t, err)
	require.True(t, dup, "retrying the same dead letter twice publishes once")
	again, err := f.Fetch(b.ctx, 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, again, 1)
	require.Equal(t, raw.Data, again[0].Data())
	require.NoError(t, again[0].Ack())

	require.NoError(t, b.q.DeleteDeadLetter(b.ctx, 1))
	require.ErrorIs(t, b.q.DeleteDeadLetter(b.ctx, 1), queue.ErrDeadLetterNotFound)
	list, err = b.q.DeadLetters(b.ctx, 0, 10)
	require.NoError(t, err)
	require.Empty(t, list)
}

// A message far over job.MaxMessageBytes is still stored, so that a worker
// can dead-letter it (a core NATS publisher would never learn of a refusal).
func TestStreamKeepsOversizedMessages(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	big := make([]byte, 60<<10)
	_, err := b.js.Publish(b.ctx, "facefleet.jobs.normal", big)
	require.NoError(t, err)
	_, err = b.js.Publish(b.ctx, "facefleet.jobs.normal", make([]byte, queue.MaxStoredMessageBytes+1))
	require.Error(t, err, "the stream bounds what it stores")
}

func BenchmarkFetchAck(b *testing.B) {
	bb := setup(b, queue.Config{})
	f, err := bb.q.Fetcher(bb.ctx)
	require.NoError(b, err)
	for b.Loop() {
		b.StopTimer()
		_, err := bb.q.Publish(bb.ctx, newJob(b, job.PriorityLow))
		require.NoError(b, err)
		b.StartTimer()
		msgs, err := f.Fetch(bb.ctx, 4, time.Second)
		if err != nil || len(msgs) != 1 {
			b.Fatalf("fetch: %d %v", len(msgs), err)
		}
		_ = msgs[0].Ack()
	}
}

func BenchmarkPublish(b *testing.B) {
	bb := setup(b, queue.Config{})
	msgs := make([]*job.Message, 0, 1024)
	for range 1024 {
		msgs = append(msgs, newJob(b, job.PriorityNormal))
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m := *msgs[i%len(msgs)]
		if i >= len(msgs) {
			id, _ := job.NewID()
			m.ID = id
		}
		if _, err := bb.q.Publish(bb.ctx, &m); err != nil {
			b.Fatal(fmt.Sprint(err))
		}
		i++
	}
}

func TestFetchSkipsPriorityAtMaxAckPending(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{MaxAckPending: 1})
	for _, p := range []job.Priority{job.PriorityHigh, job.PriorityHigh, job.PriorityNormal} {
		_, err := b.q.Publish(b.ctx, newJob(t, p))
		require.NoError(t, err)
	}
	f, err := b.q.Fetcher(b.ctx)
	require.NoError(t, err)
	held, err := f.Fetch(b.ctx, 1, time.Second)
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.Equal(t, job.PriorityHigh, b.q.Priority(held[0]))
	// workers-high is at its MaxAckPending; normal must still flow, without
	// the ~1 s the server holds a no-wait pull on a saturated consumer.
	start := time.Now()
	msgs, err := f.Fetch(b.ctx, 2, time.Second)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 700*time.Millisecond)
	require.Len(t, msgs, 1)
	require.Equal(t, job.PriorityNormal, b.q.Priority(msgs[0]))
	require.NoError(t, msgs[0].DoubleAck(b.ctx))
	require.NoError(t, held[0].DoubleAck(b.ctx))
	msgs, err = f.Fetch(b.ctx, 2, time.Second)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, job.PriorityHigh, b.q.Priority(msgs[0]))
	require.NoError(t, msgs[0].DoubleAck(b.ctx))
}
