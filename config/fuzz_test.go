package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzParseAPIKeys(f *testing.F) {
	f.Add("acme:key-acme-1\n# c\n\nb:key-bbbbbbbb")
	f.Add("nocolon")
	f.Add(":::")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseAPIKeys(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		for _, k := range keys {
			require.True(t, ValidTenant(k.Tenant))
			require.GreaterOrEqual(t, len(k.Key), 8)
			require.NotContains(t, k.String(), k.Key)
		}
	})
}

func FuzzApplyYAML(f *testing.F) {
	f.Add("nats_url: nats://a:1\nworker:\n  devices: cpu\n")
	f.Add("producer:\n  tenant: x\nredis_db: 3\n")
	f.Add("- 1\n- 2\n")
	f.Add("redis_db: 1e3\n")
	fields := fieldsOf(reflect.TypeFor[Worker]())
	f.Fuzz(func(t *testing.T, doc string) {
		var w Worker
		err := applyYAML("worker", fields, reflect.ValueOf(&w), []byte(doc))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		_ = w.Validate()
		require.NotContains(t, w.String(), "\n")
		_ = strings.TrimSpace(doc)
	})
}

func BenchmarkLoadWorker(b *testing.B) {
	args := []string{"--config", "examples/cluster.yaml", "--slots-per-device", "3"}
	for b.Loop() {
		if _, err := LoadWorker(args, nil); err != nil {
			b.Fatal(err)
		}
	}
}
