package demoworld

import (
	"fmt"
	"testing"
)

func TestZZDebug(t *testing.T) {
	for _, n := range []int{8, 60} {
		w, _ := Plan(1, n)
		gt := w.Truth
		att := 0
		for _, r := range gt.Requests {
			att += len(r.Attempts)
		}
		f := gt.Faults
		fmt.Println(n, "devices", len(gt.Devices), "actions", len(gt.Actions), "requests", len(gt.Requests), "attempts", att, "backend logs", len(gt.BackendLogs), "device logs", len(gt.DeviceLogs))
		fmt.Println(" slow", len(f.SlowEndpoint.Requests), "cascade", f.Cascade.Sessions, "retries", len(f.Retries.Requests), "stripped", len(f.StrippingHost.Requests), "skew", f.ClockSkew, "late", f.LateUpload, "sampledOut", f.SampledOut, "queued", len(f.OfflineQueue), "notfound", len(f.NotFound), "rot", f.Rotations, "restarts", len(f.Restarts), "expiredfetch", len(f.ExpiredFetch))
		fmt.Println(" expect", gt.Expect)
		var pause int64
		for _, d := range w.Devices {
			var p int64
			for _, s := range d.Steps {
				p += s.Pause.Milliseconds()
				if s.Action != nil {
					for _, r := range s.Action.Requests {
						for _, a := range r.Attempts {
							p += a.Truth.PlannedServerMs + a.Backoff.Milliseconds()
						}
					}
				}
			}
			pause += p
		}
		fmt.Println(" total device real ms", pause, "per device", pause/int64(len(w.Devices)))
	}
}
