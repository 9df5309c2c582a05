package status_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/status"
)

func createFor(t *testing.T, b *bundle, tenant string) status.Record {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	rec, created, err := b.st.Create(b.ctx, status.Record{ID: id, Tenant: tenant, Input: "inputs/" + tenant + "/" + id + "/a.jpg"})
	require.NoError(t, err)
	require.True(t, created)
	return rec
}

func ids(recs []status.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestListNewestFirstPagedPerTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []string // newest first
	for range 5 {
		rec := createFor(t, b, "list-a")
		want = append([]string{rec.ID}, want...)
		createFor(t, b, "list-b")
		time.Sleep(2 * time.Millisecond) // distinct UUIDv7 milliseconds
	}
	// A duplicate submit naming another tenant must not leak the job into
	// that tenant's list.
	_, created, err := b.st.Create(b.ctx, status.Record{ID: want[0], Tenant: "list-b"})
	require.NoError(t, err)
	require.False(t, created)

	all, next, err := b.st.List(b.ctx, "list-a", "", 0)
	require.NoError(t, err)
	require.Equal(t, want, ids(all))
	require.Empty(t, next)
	for _, r := range all {
		require.Equal(t, "list-a", r.Tenant)
	}
	bs, _, err := b.st.List(b.ctx, "list-b", "", 0)
	require.NoError(t, err)
	require.Len(t, bs, 5)
	require.NotContains(t, ids(bs), want[0])

	p1, next, err := b.st.List(b.ctx, "list-a", "", 2)
	require.NoError(t, err)
	require.Equal(t, want[:2], ids(p1))
	require.Equal(t, want[1], next)
	p2, next, err := b.st.List(b.ctx, "list-a", next, 2)
	require.NoError(t, err)
	require.Equal(t, want[2:4], ids(p2))
	p3, next, err := b.st.List(b.ctx, "list-a", next, 2)
	require.NoError(t, err)
	require.Equal(t, want[4:], ids(p3))
	require.Empty(t, next)

	// An expired record is skipped and dropped from the index.
	require.NoError(t, b.env.Client.Del(b.ctx, b.st.Key(want[1])).Err())
	got, next, err := b.st.List(b.ctx, "list-a", "", 3)
	require.NoError(t, err)
	require.Equal(t, []string{want[0], want[2], want[3]}, ids(got))
	require.Equal(t, want[3], next)
	n, err := b.env.Client.ZCard(b.ctx, b.st.IndexKey("list-a")).Result()
	require.NoError(t, err)
	require.EqualValues(t, 4, n)
	ttl, err := b.env.Client.PTTL(b.ctx, b.st.IndexKey("list-a")).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 59*time.Minute, "the index lives as long as a record")

	empty, next, err := b.st.List(b.ctx, "list-none", "", 0)
	require.NoError(t, err)
	require.Empty(t, empty)
	require.Empty(t, next)
	_, _, err = b.st.List(b.ctx, "", "", 0)
	require.Error(t, err)
}
