package queue

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishAttemptTimeout bounds one publish request; a server that went away
// mid-request makes the attempt time out and the next one goes to another
// server (or the same one, reconnected).
const publishAttemptTimeout = 5 * time.Second

// PublishBackoff is the pause before retry number attempt (1-based) of a
// publish: 50 ms doubling per attempt, capped at 1 s.
func PublishBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := 50 * time.Millisecond
	for i := 1; i < attempt && d < time.Second; i++ {
		d *= 2
	}
	return min(d, time.Second)
}

// RetryablePublishError reports whether a publish that failed with err may
// have failed for a passing reason (no ack from the stream: a server lost,
// a leader election, a reconnect), so that sending it again under the same
// Nats-Msg-Id is right. Refusals by the stream (wrong stream, message too
// large, a full stream) are not retryable.
func RetryablePublishError(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503: JetStream temporarily unavailable (no stream leader yet,
		// cluster not ready); 408: request timeout inside the cluster.
		return apiErr.Code == 503 || apiErr.Code == 408
	}
	return false
}

// publishRetrying publishes msg with opts, retrying retryable failures until
// the ack comes, ctx ends or PublishTimeout passes. Only a message with a
// Nats-Msg-Id (dedup, set in opts) may be retried: pass retry false
// otherwise. retried is true when an earlier attempt failed without a
// refusal (it may have been stored).
func (q *Queue) publishRetrying(ctx context.Context, msg *nats.Msg, retry bool, opts ...jetstream.PublishOpt) (_ *jetstream.PubAck, retried bool, _ error) {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.PublishTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, publishAttemptTimeout)
		ack, err := q.js.PublishMsg(actx, msg, opts...)
		acancel()
		if err == nil {
			return ack, retried, nil
		}
		if !retry || !RetryablePublishError(err) || ctx.Err() != nil {
			return nil, retried, err
		}
		retried = true
		t := time.NewTimer(PublishBackoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, retried, err
		case <-t.C:
		}
	}
}
