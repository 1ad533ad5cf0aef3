//go:build !unix

package httpapi_test

import "time"

// processCPU is not measured here; the cpu-ns/op metric is then 0.
func processCPU() time.Duration { return 0 }
