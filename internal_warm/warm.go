package warm
import (
 _ "github.com/nats-io/nats-server/v2/server"
 _ "github.com/nats-io/nats.go/jetstream"
 _ "github.com/versity/versitygw/embedgw"
 _ "github.com/versity/versitygw/backend/posix"
 _ "github.com/minio/minio-go/v7"
 _ "github.com/redis/go-redis/v9"
 _ "github.com/yalue/onnxruntime_go"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/compose-spec/compose-go/v2/cli"
 _ "k8s.io/api/apps/v1"
)
