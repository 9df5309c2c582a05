package main

import "github.com/minio/minio-go/v7"

func minioPut() minio.PutObjectOptions {
	return minio.PutObjectOptions{ContentType: "application/octet-stream"}
}
