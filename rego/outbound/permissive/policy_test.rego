# Tests for the permissive outbound policy (input.node replaced, never input whole).
package fieldgate.outbound_test

import rego.v1

import data.fieldgate.outbound

test_every_listed_node_is_reached if {
	n := {"id": "ice-ero", "agency": "ice-ero-seattle", "agency_type": "civil_immigration"}
	outbound.allow with input.node as n with input.agency as {}
	not outbound.reason with input.node as n with input.agency as {}
}

test_a_node_without_id_is_not_reached if {
	not outbound.allow with input.node as {"id": ""} with input.agency as {}
	outbound.reason == "the node has no id in the federation directory" with input.node as {"id": ""}
		with input.agency as {}
}
