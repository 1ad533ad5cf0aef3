package main

import (
	"time"

	auth "github.com/gooclaim/gooclaim-auth"
)

// durationValue is a pflag.Value for durations that also accepts days
// ("90d"), which time.ParseDuration does not.
type durationValue time.Duration

func (d *durationValue) String() string { return auth.FormatDuration(time.Duration(*d)) }
func (d *durationValue) Type() string   { return "duration" }
func (d *durationValue) Set(s string) error {
	v, err := auth.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

// rateValue is a pflag.Value for "60/1m".
type rateValue auth.Rate

func (r *rateValue) String() string { return auth.Rate(*r).String() }
func (r *rateValue) Type() string   { return "rate" }
func (r *rateValue) Set(s string) error {
	v, err := auth.ParseRate(s)
	if err != nil {
		return err
	}
	*r = rateValue(v)
	return nil
}
