package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/testkit"
)

type bundle struct {
	st  *status.Store
	ctx context.Context
	env *testkit.RedisEnv
}

func setup(t testing.TB) *bundle {
	t.Helper()
	env := testkit.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return &bundle{st: status.New(env.Client, status.Config{TTL: time.Hour}), ctx: ctx, env: env}
}

func newRecord(t testing.TB, b *bundle) status.Record {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	rec, created, err := b.st.Create(b.ctx, status.Record{ID: id, Tenant: "acme", Input: "inputs/" + id + "/a.jpg",
		Options: json.RawMessage(`{"geometry":true}`)})
	require.NoError(t, err)
	require.True(t, created)
	return rec
}

func TestCreateIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newRecord(t, b)
	require.Equal(t, status.StateQueued, rec.State)
	require.Equal(t, int64(1), rec.Revision)
	again, created, err := b.st.Create(b.ctx, status.Record{ID: rec.ID, Tenant: "other"})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, rec, again, "duplicate submit returns the existing record")
	got, err := b.st.Get(b.ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, rec, got)
	require.JSONEq(t, `{"geometry":true}`, string(got.Options))
	_, err = b.st.Get(b.ctx, "nope")
	require.ErrorIs(t, err, status.ErrNotFound)
	_, err = b.st.Start(b.ctx, "nope", "w", "cpu", 1)
	require.ErrorIs(t, err, status.ErrNotFound)
}

func TestMonotonicSequence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := newRecord(t, b).ID

	_, err := b.st.Progress(b.ctx, id, "decode", 10)
	require.ErrorIs(t, err, status.ErrStaleTransition, "progress before start")

	r, err := b.st.Start(b.ctx, id, "w1", "cpu", 1)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, r.State)
	require.False(t, r.StartedAt.IsZero())

	r, err = b.st.Progress(b.ctx, id, "detect", 30)
	require.NoError(t, err)
	require.Equal(t, 30, r.Percent)
	_, err = b.st.Progress(b.ctx, id, "decode", 10)
	require.ErrorIs(t, err, status.ErrStaleTransition, "percent never decreases")

	// Duplicate start of the same attempt does not reset the run.
	r, err = b.st.Start(b.ctx, id, "w1", "cpu", 1)
	require.NoError(t, err)
	require.Equal(t, 30, r.Percent)

	// Redelivery: attempt 2 restarts the run; a late attempt-1 start is stale.
	r, err = b.st.Start(b.ctx, id, "w2", "cuda:0", 2)
	require.NoError(t, err)
	require.Equal(t, 0, r.Percent)
	require.Equal(t, 2, r.Attempts)
	require.Equal(t, "w2", r.Worker)
	_, err = b.st.Start(b.ctx, id, "w1", "cpu", 1)
	require.ErrorIs(t, err, status.ErrStaleTransition)

	r, err = b.st.Succeed(b.ctx, id, []string{"results/" + id + "/result.json"}, map[string]float64{"decode": 1.5})
	require.NoError(t, err)
	require.Equal(t, status.StateSucceeded, r.State)
	require.Equal(t, 100, r.Percent)
	require.Equal(t, []string{"results/" + id + "/result.json"}, r.Outputs)
	require.Equal(t, map[string]float64{"decode": 1.5}, r.Timings)
	require.False(t, r.FinishedAt.IsZero())

	// Terminal never changes.
	for _, f := range []func() (status.Record, error){
		func() (status.Record, error) { return b.st.Fail(b.ctx, id, "x", "y") },
		func() (status.Record, error) { return b.st.Start(b.ctx, id, "w3", "cpu", 3) },
		func() (status.Record, error) { return b.st.Progress(b.ctx, id, "encode", 100) },
		func() (status.Record, error) { return b.st.RequestCancel(b.ctx, id) },
		func() (status.Record, error) { return b.st.Canceled(b.ctx, id) },
	} {
		cur, err := f()
		require.ErrorIs(t, err, status.ErrTerminal)
		var te *status.TransitionError
		require.ErrorAs(t, err, &te)
		require.Equal(t, status.StateSucceeded, te.Current.State)
		require.Equal(t, r, cur)
	}
	got, err := b.st.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, r, got)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	queued := newRecord(t, b).ID
	r, err := b.st.RequestCancel(b.ctx, queued)
	require.NoError(t, err)
	require.Equal(t, status.StateCanceled, r.State, "queued → canceled at once")
	_, err = b.st.Start(b.ctx, queued, "w", "cpu", 1)
	require.ErrorIs(t, err, status.ErrTerminal, "a worker picking it up later skips it")

	running := newRecord(t, b).ID
	_, err = b.st.Start(b.ctx, running, "w", "cpu", 1)
	require.NoError(t, err)
	r, err = b.st.RequestCancel(b.ctx, running)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, r.State)
	require.True(t, r.CancelRequested)
	r, err = b.st.Progress(b.ctx, running, "detect", 20)
	require.NoError(t, err)
	require.True(t, r.CancelRequested, "progress reports the request to the worker")
	r, err = b.st.Canceled(b.ctx, running)
	require.NoError(t, err)
	require.Equal(t, status.StateCanceled, r.State)
	_, err = b.st.RequestCancel(b.ctx, running)
	require.ErrorIs(t, err, status.ErrTerminal)
}

func TestConcurrentConflictingTransitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 20 {
		id := newRecord(t, b).ID
		_, err := b.st.Start(b.ctx, id, "w", "cpu", 1)
		require.NoError(t, err)
		var wg sync.WaitGroup
		var mu sync.Mutex
		terminalWins := 0
		ops := []func() (status.Record, error){
			func() (status.Record, error) { return b.st.Succeed(b.ctx, id, []string{"k"}, nil) },
			func() (status.Record, error) { return b.st.Fail(b.ctx, id, "transient", "boom") },
			func() (status.Record, error) { return b.st.Canceled(b.ctx, id) },
			func() (status.Record, error) { return b.st.RequestCancel(b.ctx, id) },
			func() (status.Record, error) { return b.st.Progress(b.ctx, id, "texture", 50) },
			func() (status.Record, error) { return b.st.Start(b.ctx, id, "w2", "cpu", 2) },
		}
		for i, op := range ops {
			wg.Go(func() {
				r, err := op()
				if err != nil {
					require.True(t, errors.Is(err, status.ErrTerminal) || errors.Is(err, status.ErrStaleTransition), "op %d: %v", i, err)
					return
				}
				if i < 3 && r.State.Terminal() {
					mu.Lock()
					terminalWins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, terminalWins, "exactly one terminal transition wins")
		got, err := b.st.Get(b.ctx, id)
		require.NoError(t, err)
		require.True(t, got.State.Terminal())
		require.False(t, got.FinishedAt.IsZero())
		switch got.State {
		case status.StateSucceeded:
			require.Equal(t, []string{"k"}, got.Outputs)
			require.Empty(t, got.ErrorCode)
		case status.StateFailed:
			require.Equal(t, "transient", got.ErrorCode)
			require.Empty(t, got.Outputs)
		}
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := newRecord(t, b).ID
	ch, err := b.st.Watch(b.ctx, id)
	require.NoError(t, err)
	next := func() status.Record {
		select {
		case r, ok := <-ch:
			require.True(t, ok, "channel closed early")
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
			return status.Record{}
		}
	}
	require.Equal(t, status.StateQueued, next().State)
	_, err = b.st.Start(b.ctx, id, "w", "cpu", 1)
	require.NoError(t, err)
	_, err = b.st.Progress(b.ctx, id, "detect", 40)
	require.NoError(t, err)
	_, err = b.st.Progress(b.ctx, id, "decode", 10) // stale: no event
	require.Error(t, err)
	_, err = b.st.Succeed(b.ctx, id, []string{"a"}, nil)
	require.NoError(t, err)
	r := next()
	require.Equal(t, status.StateRunning, r.State)
	r = next()
	require.Equal(t, 40, r.Percent)
	r = next()
	require.Equal(t, status.StateSucceeded, r.State)
	select {
	case _, ok := <-ch:
		require.False(t, ok, "closed after the terminal record")
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed")
	}
	_, err = b.st.Watch(b.ctx, "missing")
	require.ErrorIs(t, err, status.ErrNotFound)
}

func TestTTLRefreshed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	st := status.New(b.env.Client, status.Config{TTL: 90 * time.Second})
	id := uuid.Must(uuid.NewV7()).String()
	_, _, err := st.Create(b.ctx, status.Record{ID: id})
	require.NoError(t, err)
	ttl, err := st.TTL(b.ctx, id)
	require.NoError(t, err)
	require.Greater(t, ttl, 80*time.Second)
	require.LessOrEqual(t, ttl, 90*time.Second)
	// Shorten it by hand; the next write restores the configured retention.
	require.NoError(t, b.env.Client.Expire(b.ctx, st.Key(id), 5*time.Second).Err())
	_, err = st.Start(b.ctx, id, "w", "cpu", 1)
	require.NoError(t, err)
	ttl, err = st.TTL(b.ctx, id)
	require.NoError(t, err)
	require.Greater(t, ttl, 80*time.Second)
}

func BenchmarkTransitionRoundTrip(b *testing.B) {
	bb := setup(b)
	id := newRecord(b, bb).ID
	_, err := bb.st.Start(bb.ctx, id, "w", "cpu", 1)
	require.NoError(b, err)
	i := 0
	for b.Loop() {
		// Same percent: a no-op round trip; every 100th changes it.
		if _, err := bb.st.Progress(bb.ctx, id, "detect", min(i/100, 100)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
