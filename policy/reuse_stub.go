package policy

// RequestDependentClaims: stub until the i19-perf branch lands (delete at merge).
func (s *Set) RequestDependentClaims() bool { return s != nil && len(s.claims) > 0 }
