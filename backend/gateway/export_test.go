package gateway

import "time"

// GroupLoad is what the balancer holds of route id's group members: the
// requests in flight and the recent time to first byte of each, in route
// order; nil when no request has used the group.
func (s *Server) GroupLoad(id int64) (inFlight []int64, latency []time.Duration) {
	g := s.balance.Peek(id)
	if g == nil {
		return nil, nil
	}
	for i := 0; ; i++ {
		l := g.MemberLoad(i)
		if l == nil {
			return inFlight, latency
		}
		inFlight = append(inFlight, l.InFlight())
		latency = append(latency, l.Latency())
	}
}
