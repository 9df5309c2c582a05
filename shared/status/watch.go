package status

import (
	"context"
	"encoding/json"
	"fmt"
)

// Watch subscribes to the job's events. The channel yields the current record
// first, then every change in order; it is closed after a terminal record,
// when ctx ends, or when the subscription breaks. A missing job is
// ErrNotFound. Slow readers block the watcher goroutine, never the writers
// (Redis buffers per subscriber).
func (s *Store) Watch(ctx context.Context, id string) (<-chan Record, error) {
	ps := s.rdb.Subscribe(ctx, s.Channel(id))
	// Wait for the subscription confirmation so no change is missed between
	// it and the initial Get.
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("status: watch %s: %w", id, err)
	}
	first, err := s.Get(ctx, id)
	if err != nil {
		_ = ps.Close()
		return nil, err
	}
	out := make(chan Record, 8)
	go func() {
		defer close(out)
		defer ps.Close()
		send := func(r Record) bool {
			select {
			case out <- r:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !send(first) || first.State.Terminal() {
			return
		}
		for {
			msg, err := ps.ReceiveMessage(ctx)
			if err != nil {
				return
			}
			var fields map[string]string
			if err := json.Unmarshal([]byte(msg.Payload), &fields); err != nil {
				continue
			}
			rec, err := decodeFields(fields)
			if err != nil {
				continue
			}
			// Skip events already reflected in the initial record.
			if rec.Revision <= first.Revision {
				continue
			}
			if !send(rec) || rec.State.Terminal() {
				return
			}
		}
	}()
	return out, nil
}
