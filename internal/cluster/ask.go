package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Question ops.
const (
	opRoom       = "room"       // one room's connections
	opRooms      = "rooms"      // every room with connections
	opDisconnect = "disconnect" // close one connection
)

type question struct {
	From string `json:"from"`
	Op   string `json:"op"`
	Room string `json:"room,omitempty"`
	Conn string `json:"conn,omitempty"`
}

// answer is one node's reply; which fields are set follows the op.
type answer struct {
	Node  string             `json:"node"`
	Conns []Conn             `json:"conns,omitempty"` // opRoom
	Rooms map[string]summary `json:"rooms,omitempty"` // opRooms
	Found bool               `json:"found,omitempty"` // opDisconnect
}

// answer is the bus handler: every node but the asker replies to every
// question, "not here" included, so the asker can stop waiting as soon as
// all live nodes have spoken.
func (s *Service) answer(data []byte) []byte {
	var q question
	if err := json.Unmarshal(data, &q); err != nil {
		s.log.Warn("cluster: undecodable question", "err", err)
		return nil
	}
	if q.From == s.opts.Node {
		return nil // the asker answers for itself
	}
	if q.From != "" {
		// Someone asking is alive, even if its beat has not arrived yet.
		s.seen(q.From)
	}
	a, ok := s.localAnswer(q)
	if !ok {
		s.log.Warn("cluster: unknown question", "op", q.Op, "from", q.From)
		return nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		s.log.Error("cluster: encode answer", "err", err)
		return nil
	}
	return b
}

func (s *Service) localAnswer(q question) (answer, bool) {
	a := answer{Node: s.opts.Node}
	switch q.Op {
	case opRoom:
		a.Conns = s.local.LocalRoom(q.Room)
	case opRooms:
		a.Rooms = summarize(s.local.LocalRooms())
	case opDisconnect:
		a.Found = s.local.Disconnect(q.Conn)
	default:
		return a, false
	}
	return a, true
}

// summary is a node's part of one room in the room list: user IDs and
// the number of connections, which is all the list needs. It keeps a
// busy node's answer far below NATS's payload limit.
type summary struct {
	Users []string `json:"users"`
	Conns int      `json:"conns"`
}

func summarize(rooms map[string][]Conn) map[string]summary {
	out := make(map[string]summary, len(rooms))
	for id, conns := range rooms {
		seen := make(map[string]struct{}, len(conns))
		sm := summary{Conns: len(conns)}
		for _, c := range conns {
			if _, dup := seen[c.User.ID]; !dup {
				seen[c.User.ID] = struct{}{}
				sm.Users = append(sm.Users, c.User.ID)
			}
		}
		out[id] = sm
	}
	return out
}

func (s *Service) seen(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nodes[node]; !ok {
		s.nodes[node] = time.Now()
	}
}

// ask puts q to every node: this one answers directly, the others over the
// bus. done may end the wait early once an answer settles the question. It
// returns the answers (this node's first) and the status of every node
// expected or heard from, sorted by node.
func (s *Service) ask(ctx context.Context, q question, done func(answer) bool) ([]answer, []chat.NodeStatus) {
	q.From = s.opts.Node
	self, _ := s.localAnswer(q)
	answers := []answer{self}
	statuses := map[string]string{s.opts.Node: chat.NodeOK}
	expected := 0
	for _, n := range s.Nodes() {
		if n != s.opts.Node {
			statuses[n] = chat.NodeUnreachable
			expected++
		}
	}
	if !done(self) && expected > 0 {
		data, _ := json.Marshal(q)
		ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		pending := expected
		err := s.bus.Gather(ctx, s.opts.Subjects.Questions, data, func(reply []byte) bool {
			var a answer
			if err := json.Unmarshal(reply, &a); err != nil || a.Node == "" {
				s.log.Warn("cluster: undecodable answer", "err", err)
				return true
			}
			if st, known := statuses[a.Node]; known && st == chat.NodeOK {
				return true // a duplicate
			} else if known {
				pending--
			}
			statuses[a.Node] = chat.NodeOK
			answers = append(answers, a)
			return !done(a) && pending > 0
		})
		if err != nil {
			// The bus is down: this node's own answer is all there is.
			s.log.WarnContext(ctx, "cluster: ask the other nodes", "op", q.Op, "err", err)
		}
	}
	out := make([]chat.NodeStatus, 0, len(statuses))
	for n, st := range statuses {
		out = append(out, chat.NodeStatus{Node: n, Status: st})
	}
	slices.SortFunc(out, func(a, b chat.NodeStatus) int { return cmp.Compare(a.Node, b.Node) })
	return answers, out
}

// Disconnect closes connID on whichever node holds it and returns that
// node. chat.CodeNotFound when no node has it, chat.CodeUnavailable when
// it was not found but some node did not answer.
func (s *Service) Disconnect(ctx context.Context, connID string) (string, error) {
	if connID == "" {
		return "", chat.Errorf(chat.CodeBadRequest, "connection id: required")
	}
	answers, nodes := s.ask(ctx, question{Op: opDisconnect, Conn: connID}, func(a answer) bool { return a.Found })
	for _, a := range answers {
		if a.Found {
			return a.Node, nil
		}
	}
	if down := unreachable(nodes); len(down) > 0 {
		return "", chat.Errorf(chat.CodeUnavailable, "connection %s not found on the nodes that answered; %v did not answer", connID, down)
	}
	return "", chat.Errorf(chat.CodeNotFound, "no connection %s on any node", connID)
}

func unreachable(nodes []chat.NodeStatus) []string {
	var out []string
	for _, n := range nodes {
		if n.Status != chat.NodeOK {
			out = append(out, n.Node)
		}
	}
	return out
}
