package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"

	kafkago "github.com/segmentio/kafka-go"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Member is one member of a consumer group and the partitions assigned to it.
type Member struct {
	ID       string
	ClientID string
	// Assigned maps each topic to the partitions the member owns.
	Assigned map[string][]int
}

// Group is a consumer group as the coordinator describes it.
type Group struct {
	ID      string
	State   string // "Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead"
	Members []Member
}

// DescribeGroup asks the coordinator for a group's state and its members' assignments
// (kafka-go Client.DescribeGroups).
func DescribeGroup(ctx context.Context, cfg pkafka.Config, group string) (Group, error) {
	cl := cfg.Client()
	defer closeIdle(cl)
	resp, err := cl.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return Group{}, fmt.Errorf("describing group %s: %w", group, err)
	}
	if len(resp.Groups) != 1 {
		return Group{}, fmt.Errorf("describing group %s: %d groups in the answer", group, len(resp.Groups))
	}
	g := resp.Groups[0]
	if g.Error != nil {
		return Group{}, fmt.Errorf("describing group %s: %w", group, g.Error)
	}
	out := Group{ID: g.GroupID, State: g.GroupState}
	for _, m := range g.Members {
		mem := Member{ID: m.MemberID, ClientID: m.ClientID, Assigned: map[string][]int{}}
		for _, t := range m.MemberAssignments.Topics {
			ps := append([]int(nil), t.Partitions...)
			sort.Ints(ps)
			mem.Assigned[t.Topic] = ps
		}
		out.Members = append(out.Members, mem)
	}
	sort.Slice(out.Members, func(i, j int) bool { return out.Members[i].ID < out.Members[j].ID })
	return out, nil
}

// CheckOwnership verifies that the group is stable with members members and that every
// partition 0..partitions-1 of every topic is owned by exactly one member, the same member
// for partition p of every topic (co-partitioning). It returns every problem found.
func (g Group) CheckOwnership(topics []string, partitions, members int) []string {
	var problems []string
	if g.State != "Stable" {
		problems = append(problems, fmt.Sprintf("group %s is %s, want Stable", g.ID, g.State))
	}
	if len(g.Members) != members {
		problems = append(problems, fmt.Sprintf("group %s has %d members, want %d", g.ID, len(g.Members), members))
	}
	ownerOf := map[int]string{} // partition -> member, from the first topic that names it
	for _, t := range topics {
		owners := map[int][]string{}
		for _, m := range g.Members {
			for _, p := range m.Assigned[t] {
				owners[p] = append(owners[p], m.ID)
			}
		}
		for p := range partitions {
			switch os := owners[p]; {
			case len(os) == 0:
				problems = append(problems, fmt.Sprintf("%s[%d] has no owner", t, p))
			case len(os) > 1:
				problems = append(problems, fmt.Sprintf("%s[%d] has %d owners: %s", t, p, len(os), strings.Join(os, ", ")))
			default:
				if prev, ok := ownerOf[p]; ok && prev != os[0] {
					problems = append(problems, fmt.Sprintf("%s[%d] is owned by %s, but partition %d of another topic by %s", t, p, os[0], p, prev))
				}
				ownerOf[p] = os[0]
			}
		}
		for p := range owners {
			if p < 0 || p >= partitions {
				problems = append(problems, fmt.Sprintf("%s[%d] assigned but does not exist", t, p))
			}
		}
	}
	for _, m := range g.Members {
		if len(m.Assigned) == 0 {
			problems = append(problems, fmt.Sprintf("member %s owns nothing", m.ID))
		}
	}
	return problems
}
