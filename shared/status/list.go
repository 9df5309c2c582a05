package status

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Per-tenant job index: a sorted set at "<prefix>tenant:<tenant>" whose
// members are job IDs, all with score 0, so that members sort by their bytes;
// job IDs are UUIDv7 (time-ordered), so the lexical order is the submit
// order. Create adds to it; List reads it newest first and drops IDs whose
// record has expired. The index keeps the newest IndexCap IDs of a tenant and
// lives as long as a record (TTL refreshed by every Create).

// IndexCap bounds the IDs kept in a tenant's index.
const IndexCap = 10000

// Limits of List.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// IndexKey returns the Redis key of the tenant's job index.
func (s *Store) IndexKey(tenant string) string { return s.prefix + "tenant:" + tenant }

// index adds id to the tenant's index. It runs before the record is created,
// so that a record is never missing from the index; an ID whose create then
// fails is dropped by List when it finds no record.
func (s *Store) index(ctx context.Context, tenant, id string) error {
	if tenant == "" {
		return nil
	}
	key := s.IndexKey(tenant)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: 0, Member: id})
		p.ZRemRangeByRank(ctx, key, 0, -IndexCap-1)
		if s.ttl > 0 {
			p.PExpire(ctx, key, s.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("status: index %s: %w", id, err)
	}
	return nil
}

// List returns up to limit records of tenant, newest first, starting after
// the job ID before ("" = the newest). next is the ID to pass as before for
// the following page, "" at the end. limit 0 means DefaultListLimit; it is
// capped at MaxListLimit. Records of another tenant are never returned.
func (s *Store) List(ctx context.Context, tenant, before string, limit int) (recs []Record, next string, err error) {
	if tenant == "" {
		return nil, "", errors.New("status: list: empty tenant")
	}
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	key := s.IndexKey(tenant)
	hi := "+"
	if before != "" {
		hi = "(" + before
	}
	recs = []Record{}
	for {
		// One more than needed tells whether there is a next page.
		want := int64(limit - len(recs) + 1)
		ids, err := s.rdb.ZRevRangeByLex(ctx, key, &redis.ZRangeBy{Max: hi, Min: "-", Count: want}).Result()
		if err != nil {
			return nil, "", fmt.Errorf("status: list %s: %w", tenant, err)
		}
		if len(ids) == 0 {
			return recs, "", nil
		}
		cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range ids {
				p.HGetAll(ctx, s.Key(id))
			}
			return nil
		})
		if err != nil {
			return nil, "", fmt.Errorf("status: list %s: %w", tenant, err)
		}
		var gone []any
		for i, c := range cmds {
			fields, _ := c.(*redis.MapStringStringCmd).Result()
			if len(fields) == 0 {
				gone = append(gone, ids[i])
				continue
			}
			rec, err := decodeFields(fields)
			if err != nil || rec.Tenant != tenant {
				continue
			}
			if len(recs) == limit {
				// The extra one: there is a next page.
				return recs, recs[len(recs)-1].ID, nil
			}
			recs = append(recs, rec)
		}
		if len(gone) > 0 {
			if err := s.rdb.ZRem(ctx, key, gone...).Err(); err != nil {
				return nil, "", fmt.Errorf("status: list %s: %w", tenant, err)
			}
		}
		if int64(len(ids)) < want {
			return recs, "", nil
		}
		hi = "(" + ids[len(ids)-1]
	}
}
