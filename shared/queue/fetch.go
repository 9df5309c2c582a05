package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/shared/job"
)

// requestTimeout bounds each JetStream API request of the fetcher and of
// Lag (consumer info).
const requestTimeout = 2 * time.Second

// Fetcher pulls messages in priority order: high first, then normal, then low.
//
// It rides through a server's loss: every request is bounded (one sent just
// before its server went away is never answered), and a consumer handle is
// only its stream and name, so after a reconnect, a new consumer leader or a
// consumer provisioned again the next round's requests reach whichever
// server now leads it. Errors are returned; the caller pauses and fetches
// again.
type Fetcher struct {
	q         *Queue
	consumers []prioConsumer
	// idle polling: first and maximum delay between empty rounds.
	minPoll, maxPoll time.Duration
}

type prioConsumer struct {
	prio job.Priority
	c    jetstream.Consumer
}

// Fetcher looks up the per-priority consumers (they must be provisioned).
func (q *Queue) Fetcher(ctx context.Context) (*Fetcher, error) {
	f := &Fetcher{q: q, minPoll: 5 * time.Millisecond, maxPoll: 100 * time.Millisecond}
	for _, p := range job.Priorities() {
		c, err := q.js.Consumer(ctx, q.cfg.Stream, ConsumerName(p))
		if err != nil {
			return nil, fmt.Errorf("queue: consumer %s: %w", ConsumerName(p), err)
		}
		f.consumers = append(f.consumers, prioConsumer{p, c})
	}
	return f, nil
}

// Fetch returns up to n messages (never more), taking high-priority messages
// first, then normal, then low. When none are available it keeps polling all
// priorities (5 ms growing to 100 ms between rounds) until some arrive,
// maxWait passes or ctx ends; maxWait <= 0 makes a single round. An empty
// result with a nil error means nothing was available. The caller owns the
// messages and must Ack/Nak/Term each, also those returned with an error.
func (f *Fetcher) Fetch(ctx context.Context, n int, maxWait time.Duration) ([]jetstream.Msg, error) {
	if n <= 0 {
		return nil, nil
	}
	var deadline <-chan time.Time
	if maxWait > 0 {
		t := time.NewTimer(maxWait)
		defer t.Stop()
		deadline = t.C
	}
	delay := f.minPoll
	for {
		msgs, err := f.round(ctx, n)
		if len(msgs) > 0 || err != nil || maxWait <= 0 {
			return msgs, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-deadline:
			t.Stop()
			return nil, nil
		case <-t.C:
		}
		delay = min(2*delay, f.maxPoll)
	}
}

// round makes one no-wait pass over the priorities.
func (f *Fetcher) round(ctx context.Context, n int) ([]jetstream.Msg, error) {
	var out []jetstream.Msg
	for _, pc := range f.consumers {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		want := n - len(out)
		if want <= 0 {
			break
		}
		// The server holds a no-wait pull for up to ~1 s when the consumer
		// is at MaxAckPending (the whole fleet holds its limit of this
		// priority), so check the room first and never ask for more.
		// A bounded request: one sent just before its server went away is
		// never answered, and the connection's reconnect does not fail it.
		ictx, cancel := context.WithTimeout(ctx, requestTimeout)
		info, err := pc.c.Info(ictx)
		cancel()
		if err != nil {
			return out, fmt.Errorf("queue: fetch %s: %w", pc.prio, err)
		}
		if info.NumPending == 0 && info.NumRedelivered == 0 && info.NumAckPending == 0 {
			continue // nothing to deliver
		}
		if limit := info.Config.MaxAckPending; limit > 0 {
			room := limit - info.NumAckPending
			if room <= 0 {
				continue
			}
			want = min(want, room)
		}
		batch, err := pc.c.FetchNoWait(want)
		if err != nil {
			return out, fmt.Errorf("queue: fetch %s: %w", pc.prio, err)
		}
		for m := range batch.Messages() {
			out = append(out, m)
		}
		// A priority whose consumer refuses the pull (409 status, e.g.
		// "Exceeded MaxAckPending" when the fleet already holds its limit of
		// that priority) is skipped for this round, so it cannot block the
		// others; it is retried on the next round.
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
				errors.Is(err, jetstream.ErrConsumerNotFound) {
				return out, fmt.Errorf("queue: fetch %s: %w", pc.prio, err)
			}
			continue
		}
	}
	return out, nil
}

// Priority returns the priority of a fetched message from its subject, or
// "" when the subject is not one of this queue's.
func (q *Queue) Priority(msg jetstream.Msg) job.Priority {
	for _, p := range job.Priorities() {
		if msg.Subject() == q.cfg.Subject(p) {
			return p
		}
	}
	return ""
}
