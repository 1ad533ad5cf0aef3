package main

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/policy"
)

// durationValue is a pflag.Value for durations that also accepts days
// ("90d"), which time.ParseDuration does not, and a plain number of seconds.
type durationValue time.Duration

func (d *durationValue) String() string { return auth.FormatDuration(time.Duration(*d)) }
func (d *durationValue) Type() string   { return "duration" }
func (d *durationValue) Set(s string) error {
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && n >= 0 && n <= 100_000*86400 {
		*d = durationValue(time.Duration(n) * time.Second)
		return nil
	}
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

// sizeValue is a pflag.Value for a size in bytes: a plain number, or a
// number of KiB, MiB or GiB ("16KiB"). KB and MB are refused rather than
// guessed at: some mean 1000, some 1024.
type sizeValue int

var sizeUnits = []struct {
	suffix string
	n      int
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

func (v *sizeValue) String() string {
	n := int(*v)
	for _, u := range sizeUnits {
		if n != 0 && n%u.n == 0 {
			return strconv.Itoa(n/u.n) + u.suffix
		}
	}
	return strconv.Itoa(n)
}

func (v *sizeValue) Type() string { return "size" }

func (v *sizeValue) Set(s string) error {
	s = strings.TrimSpace(s)
	num, mult := s, 1
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok && (u.suffix != "B" || !strings.HasSuffix(n, "i")) {
			num, mult = strings.TrimSpace(n), u.n
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return fmt.Errorf("invalid size %q: use bytes (16384) or KiB, MiB, GiB (16KiB)", s)
	}
	*v = sizeValue(n * mult)
	return nil
}

// prefixesValue is a pflag.Value for a comma-separated list of CIDRs or
// addresses; given more than once, the lists add up.
type prefixesValue []netip.Prefix

func (p *prefixesValue) String() string {
	s := make([]string, len(*p))
	for i, pr := range *p {
		s[i] = pr.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixesValue) Type() string { return "cidrs" }

func (p *prefixesValue) Set(s string) error {
	list, err := httpapi.ParsePrefixes(strings.Split(s, ","))
	if err != nil {
		return fmt.Errorf("%w: want CIDRs or addresses separated by commas, for example 10.0.0.0/8,192.0.2.10", err)
	}
	*p = append(*p, list...)
	return nil
}

// quotasValue is a pflag.Value for token quotas, "10000/1d": repeatable,
// and a value may list several separated by commas (as an environment
// variable or a configuration file gives them).
type quotasValue []auth.Rate

func (q *quotasValue) String() string { return strings.Join(auth.FormatQuotas(*q), ",") }
func (q *quotasValue) Type() string   { return "quota" }
func (q *quotasValue) Set(s string) error {
	list := append(auth.FormatQuotas(*q), strings.Split(s, ",")...)
	qs, err := auth.ParseQuotas(list)
	if err != nil {
		return err
	}
	*q = qs
	return nil
}

// claimsValue is a pflag.Value for claim expressions NAME=EXPR
// (--default-claim): repeatable, one claim per value (an expression may
// hold commas), each checked as it is given so that a bad one stops the
// server from starting with the claim's name and the position.
type claimsValue map[string]string

func (c *claimsValue) String() string {
	var l []string
	for _, k := range slices.Sorted(maps.Keys(*c)) {
		l = append(l, k+"="+(*c)[k])
	}
	return strings.Join(l, " ")
}
func (c *claimsValue) Type() string { return "claim" }
func (c *claimsValue) Set(s string) error {
	m, err := parseClaims("default-claim", []string{s})
	if err != nil {
		return err
	}
	for name, expr := range m {
		if _, dup := (*c)[name]; dup {
			return fmt.Errorf("claim %q is given twice", name)
		}
		if err := policy.CheckClaim(name, expr); err != nil {
			return err
		}
		if *c == nil {
			*c = claimsValue{}
		}
		(*c)[name] = expr
	}
	return nil
}
