// Package failover holds the gateway's failover rules, apart from HTTP: the
// policy made from the settings (retries, backoff, timeouts, cooldowns),
// the classification of a backend's failure into what to do next (retry
// the same backend, try the next one, or stop) and which fault it shows
// (the pair provider+model, or the whole provider), the circuit breakers
// that cool faulty pairs and providers down, and the deadlines an attempt
// runs under.
//
// The gateway decides with these; nothing here writes a response.
package failover
