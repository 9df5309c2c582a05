package devservers_test

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

func itoa(i int) string { return strconv.Itoa(i) }

func redisClient(addr string) *redis.Client { return redis.NewClient(&redis.Options{Addr: addr}) }
