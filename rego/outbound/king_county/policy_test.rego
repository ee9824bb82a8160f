# Tests for King County's outbound policy. Only input.node and input.agency are
# replaced, never input whole (rego-cpp 1.5.2 crashes on that: see
# rego/lib/fieldgate/sharing_test.rego).
package fieldgate.outbound_test

import rego.v1

import data.fieldgate.outbound

# The county's own facts (input.agency).
county(x) := {"id": "kcso", "agency_type": "local_law_enforcement", "jurisdiction": x}

node(agency, agency_type) := {
	"id": "n1",
	"agency": agency,
	"agency_type": agency_type,
	"jurisdiction": "WA",
	"issuers": [agency],
}

allows(n) if {
	c := county("WA")
	outbound.allow with input.node as n with input.agency as c
}

reason_for(n) := r if {
	c := county("WA")
	r := outbound.reason with input.node as n with input.agency as c
}

test_police_and_sheriffs_are_reached if {
	allows(node("spd", "local_law_enforcement"))
	allows(node("wsp", "state_law_enforcement"))
	allows(node("fbi-seattle", "federal_law_enforcement"))
	allows(node("doc", "corrections"))
	allows(node("kcpao", "prosecution"))
}

test_reached_nodes_have_no_reason if {
	not reason_for(node("spd", "local_law_enforcement"))
}

test_a_civil_immigration_agency_is_never_reached if {
	n := node("some-immigration-office", "civil_immigration")
	not allows(n)
	reason_for(n) == "King County ordinance (2018): never a civil immigration agency"
}

test_an_agency_the_ordinance_names_is_not_reached_whatever_its_type if {
	# A literal, not node(...): rego-cpp 1.5.2 quotes a function-built string in sprintf.
	n := {"id": "n1", "agency": "ice-hsi-seattle", "agency_type": "federal_law_enforcement"}
	not allows(n)
	reason_for(n) == "King County ordinance (2018) excludes agency ice-hsi-seattle"
}

test_a_node_of_unknown_type_is_not_reached if {
	n := node("mystery", "")
	not allows(n)
	reason_for(n) == "the federation directory does not say what kind of agency runs this node"
}

test_an_unlisted_type_is_not_reached if {
	n := {"id": "n1", "agency": "tax-office", "agency_type": "revenue"}
	not allows(n)
	reason_for(n) == "King County does not send searches to agencies of type revenue"
}
