package slo

import (
	"strconv"
	"time"
)

// duration formats d with three significant digits: 12.3ms, 132ms, 1.23s.
func duration(d time.Duration) string {
	if d <= 0 {
		return d.String()
	}
	r := time.Duration(1)
	for d >= 1000*r && r < time.Second {
		r *= 10
	}
	return d.Round(r).String()
}

// percent formats a target fraction as briefly as it was given: 0.999 →
// "99.9%".
func percent(f float64) string {
	return strconv.FormatFloat(f*100, 'g', 6, 64) + "%"
}

// percentValue formats a measured fraction with prec decimals.
func percentValue(f float64, prec int) string {
	return strconv.FormatFloat(f*100, 'f', prec, 64) + "%"
}

// byteSize formats n in binary units: 0 B, 512 B, 4.0 KiB, 12.5 MiB.
func byteSize(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	f, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if f < 1024 {
			break
		}
		f, unit = f/1024, u
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
}
